"""`Preprocessed` / `PreprocessedVector`: the NumPy stack on the environment side gives the numbers
the TF stack gives when run by hand on the same raw states."""

import numpy as np
import pytest

from modalbridge.bridges import ConfigError, Environment, Step, Terminal, VectorEnvironment, check
from modalbridge.preprocess import Preprocessed, PreprocessedVector, Stack

WORDS = ['red', 'blue', 'ball', 'key', 'door']
DECLARATION = dict(
    image=['grayscale', dict(type='sequence', length=3)],
    caption=[dict(type='tokenize', length=3, corpus=['red ball', 'blue key'])],
    speed=['running_standardize'])


class Room(Environment):
    """Episodes of `length` steps with an image, a caption and a speed; keeps every raw state it returns."""

    def __init__(self, length=3, seed=0):
        super().__init__(dict(image=dict(type='int', shape=(4, 4, 3), min_value=0, max_value=255, dtype='uint8'),
                              caption=dict(type='text'), speed=dict(type='float', shape=(2,))),
                         dict(move=dict(type='int', shape=(), num_values=2)))
        self.length, self.rng, self.raw = length, np.random.default_rng(seed), []

    def _observe(self):
        states = dict(image=self.rng.integers(0, 256, (4, 4, 3)).astype(np.uint8),
                      caption=np.array(' '.join(self.rng.choice(WORDS, 2)), object),
                      speed=self.rng.normal(size=2).astype(np.float32))
        self.raw.append(states)
        return states

    def _reset(self, seed):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.t = 0
        return self._observe()

    def _execute(self, actions):
        self.t += 1
        return Step(self._observe(), float(actions['move']), Terminal(self.t >= self.length), {})


def assert_close(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].shape == b[name].shape and a[name].dtype == b[name].dtype, name
        np.testing.assert_allclose(a[name].astype(float), b[name].astype(float), rtol=1e-5, atol=1e-5, err_msg=name)


def test_the_environment_side_placement_equals_the_tf_stack_run_by_hand():
    env = Preprocessed(Room(), DECLARATION)
    outputs = [env.reset(seed=1)]
    starts = [True]
    for step in range(7):  # three episodes of three steps: two boundaries crossed
        result = env.execute(dict(move=step % 2))
        outputs.append(result.states)
        starts.append(False)
        if result.terminal:
            outputs.append(env.reset())
            starts.append(True)
    raw = env.env.raw
    assert len(raw) == len(outputs) and sum(starts) == 3
    by_hand = Stack(Room().states, DECLARATION, backend='tf')
    for states, start, expected in zip(raw, starts, outputs):
        if start:
            by_hand.reset()
        assert_close(expected, by_hand(states))
    assert starts[4] and outputs[4]['image'][..., 0].tolist() == outputs[4]['image'][..., 2].tolist()


def test_the_specs_are_the_stacks_and_the_actions_the_environments():
    env = Preprocessed(Room(), DECLARATION)
    assert dict(env.states) == dict(env.stack.states) and dict(env.actions) == dict(env.env.actions)
    assert env.states['caption'].maximum == 5 and env.states['image'].shape == (4, 4, 3)


def test_check_passes_on_a_preprocessed_environment():
    report = check(lambda: Preprocessed(Room(), dict(image=DECLARATION['image'], caption=DECLARATION['caption'])))
    assert report.ok


def test_check_passes_with_running_statistics_once_they_are_frozen():
    def frozen():
        env = Preprocessed(Room(), DECLARATION)
        env.stack.freeze()
        return env

    assert check(frozen).ok
    learning = check(lambda: Preprocessed(Room(), DECLARATION), raise_on_failure=False)
    assert 'determinism' in str(learning)  # the statistics learned from the first run


def test_only_environments_are_wrapped():
    with pytest.raises(ConfigError, match='Preprocessed: env must be a modalbridge Environment; received list'):
        Preprocessed([], DECLARATION)
    with pytest.raises(ConfigError, match='PreprocessedVector: envs must be a batched environment .*; received Room'):
        PreprocessedVector(Room(), DECLARATION)


def test_the_vector_placement_equals_the_tf_stack_run_by_hand_with_final_states():
    by_hand = Stack(Room().states, DECLARATION, num_envs=2, backend='tf')
    envs = PreprocessedVector(VectorEnvironment([Room(length=2, seed=0), Room(length=3, seed=1)]), DECLARATION)
    reference = VectorEnvironment([Room(length=2, seed=0), Room(length=3, seed=1)])
    assert_close(envs.reset(), by_hand(reference.reset()))
    finished = 0
    for step in range(7):
        actions = dict(move=np.array([step % 2, 1]))
        mine, theirs = envs.execute(actions), reference.execute(actions)
        mask = theirs.info['final_mask']
        assert mine.info['final_mask'].tolist() == mask.tolist()
        np.testing.assert_array_equal(mine.terminal, theirs.terminal)
        if mask.any():
            finished += int(mask.sum())
            final = by_hand(theirs.info['final_states'], update=False)
            for name in final:
                np.testing.assert_allclose(mine.info['final_states'][name][mask].astype(float),
                                           final[name][mask].astype(float), rtol=1e-5, atol=1e-5)
            by_hand.reset(mask)
        assert_close(mine.states, by_hand(theirs.states))
    assert finished >= 4
    assert envs.num_envs == 2 and dict(envs.states) == dict(envs.stack.states)
    envs.close()


class Finals(Room):
    """An environment that reports the last states of an episode it restarted itself."""

    def _execute(self, actions):
        step = super()._execute(actions)
        return step._replace(info=dict(final_states=self.raw[-1]), terminal=Terminal.NONE)


def test_final_states_the_environment_reports_are_preprocessed_without_being_recorded():
    env = Preprocessed(Finals(), dict(speed=[dict(type='sequence', length=2)]))
    env.reset(seed=0)
    step = env.execute(dict(move=0))
    np.testing.assert_array_equal(step.info['final_states']['speed'], step.states['speed'])
    before = env.stack.state()
    env.execute(dict(move=0))
    assert not np.array_equal(before['speed/sequence/buffer'], env.stack.state()['speed/sequence/buffer'])
