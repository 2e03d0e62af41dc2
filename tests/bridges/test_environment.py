import numpy as np
import pytest

from modalbridge.bridges import (ConfigError, Environment, EnvironmentFailure, ResetNeeded,
                                 SpecError, Step, Terminal)
from modalbridge.bridges import environment as environment_lib
from modalbridge.bridges import specs as specs_lib


class Counter(Environment):
    """Counts up by the chosen increment; ends at 5 (TERMINATED)."""

    def __init__(self, **kwargs):
        super().__init__(
            states=dict(count=dict(type='int', shape=(), min_value=0, max_value=100),
                        board=dict(type='float', shape=(2,)),
                        caption=dict(type='text')),
            actions=dict(step=dict(type='int', num_values=3)), **kwargs)
        self.board = np.zeros(2, np.float32)
        self.closed = 0

    def _reset(self, seed):
        self.count = 0
        return dict(count=self.count, board=self.board, caption='start')

    def _execute(self, actions):
        self.count += int(actions['step'])
        self.board[0] = self.count
        terminal = Terminal.TERMINATED if self.count >= 5 else Terminal.NONE
        return Step(dict(count=self.count, board=self.board, caption=f'at {self.count}'),
                    1, terminal, dict(count=self.count))

    def _close(self):
        self.closed += 1


def test_execute_before_reset_raises_reset_needed():
    env = Counter()
    with pytest.raises(ResetNeeded, match=r'^Counter: execute\(\) called before reset\(\)$'):
        env.execute(dict(step=1))


def test_execute_after_the_end_raises_reset_needed():
    env = Counter()
    env.reset()
    for _ in range(2):
        step = env.execute(dict(step=2))
    step = env.execute(dict(step=2))
    assert step.terminal is Terminal.TERMINATED
    with pytest.raises(ResetNeeded, match=environment_lib.EXECUTE_AFTER_END.format(
            name='Counter', terminal='TERMINATED').replace('(', r'\(').replace(')', r'\)')):
        env.execute(dict(step=0))
    env.reset()
    env.execute(dict(step=0))


def test_plain_values_are_converted_to_declared_dtypes():
    env = Counter()
    states = env.reset()
    assert states['count'].dtype == np.int64 and states['count'].shape == ()
    assert states['caption'].dtype == object and states['caption'].item() == 'start'
    step = env.execute(dict(step=1))
    assert isinstance(step.reward, float) and step.reward == 1.0
    assert step.terminal is Terminal.NONE and step.info == dict(count=1)


def test_returned_arrays_are_fresh():
    env = Counter()
    first = env.reset()
    first['board'][:] = 99
    step = env.execute(dict(step=1))
    assert step.states['board'].tolist() == [1.0, 0.0]
    assert not np.shares_memory(step.states['board'], env.board)


def test_max_episode_timesteps_truncates():
    env = Counter(max_episode_timesteps=3)
    env.reset()
    terminals = [env.execute(dict(step=0)).terminal for _ in range(3)]
    assert terminals == [Terminal.NONE, Terminal.NONE, Terminal.TRUNCATED]
    assert env.timestep == 3
    with pytest.raises(ResetNeeded, match='TRUNCATED'):
        env.execute(dict(step=0))


def test_a_true_end_at_the_limit_stays_terminated():
    env = Counter(max_episode_timesteps=3)
    env.reset()
    env.execute(dict(step=2))
    env.execute(dict(step=2))
    assert env.execute(dict(step=2)).terminal is Terminal.TERMINATED


@pytest.mark.parametrize('limit', [0, -1, 2.5, '3'])
def test_bad_max_episode_timesteps_is_a_config_error(limit):
    with pytest.raises(ConfigError, match='max_episode_timesteps: expected a positive int or None'):
        Counter(max_episode_timesteps=limit)


@pytest.mark.parametrize('actions, key, received', [
    (dict(), 'step', "missing ['step']"),
    (dict(step=1, jump=1), 'jump', "unknown ['jump']"),
    (dict(jump=1), 'step', "missing ['step'] and unknown ['jump']"),
    (dict(step=3), 'step', 'int 3 (out of bounds)'),
    (dict(step=[1]), 'step', 'shape (1,) instead of ()'),
    ([1], 'actions', 'list'),
])
def test_invalid_actions_raise_spec_error_naming_the_key(actions, key, received):
    env = Counter()
    env.reset()
    with pytest.raises(SpecError) as caught:
        env.execute(actions)
    assert caught.value.key == key
    assert received in str(caught.value)
    assert env.timestep == 0  # nothing was executed


def test_close_is_idempotent_and_a_context_manager():
    with Counter() as env:
        env.reset()
    env.close()
    assert env.closed == 1
    with pytest.raises(ResetNeeded, match='Counter: the environment is closed'):
        env.reset()
    with pytest.raises(ResetNeeded, match='Counter: the environment is closed'):
        env.execute(dict(step=0))


def test_specs_are_fixed_read_only_and_named_by_key():
    env = Counter()
    assert env.states is env.states and env.actions is env.actions
    assert env.actions['step'].num_values == 3
    assert all(spec.name == key for key, spec in env.states.items())
    with pytest.raises(TypeError):
        env.states['extra'] = None  # type: ignore[index]


class Broken(Counter):
    def _execute(self, actions):
        raise KeyError('wheel fell off')


def test_a_failing_hook_becomes_environment_failure_with_the_original():
    env = Broken()
    env.reset()
    with pytest.raises(EnvironmentFailure, match=r"Broken._execute failed: KeyError\('wheel fell off'\)") as caught:
        env.execute(dict(step=1))
    assert isinstance(caught.value.original, KeyError)
    assert caught.value.__cause__ is caught.value.original


class WrongKeys(Counter):
    def _reset(self, seed):
        return dict(count=0)


def test_a_hook_returning_wrong_state_keys_is_refused():
    with pytest.raises(EnvironmentFailure, match=r"^WrongKeys._reset returned an invalid states: expected the "
                                                 r"state keys \['board', 'caption', 'count'\]; received \['count'\]$"):
        WrongKeys().reset()


class OutOfBounds(Counter):
    def _reset(self, seed):
        return dict(count=500, board=self.board, caption='start')


def test_a_plain_state_value_outside_its_spec_is_refused():
    with pytest.raises(EnvironmentFailure, match="OutOfBounds._reset returned an invalid state 'count': "
                                                 "expected int64 scalar in") as caught:
        OutOfBounds().reset()
    assert isinstance(caught.value.original, SpecError) and caught.value.original.key == 'count'


def test_terminal_from_flags_prefers_terminated():
    from modalbridge.bridges.environment import terminal_from_flags
    assert terminal_from_flags(True, True) is Terminal.TERMINATED
    assert terminal_from_flags(False, True) is Terminal.TRUNCATED
    assert terminal_from_flags(False, False) is Terminal.NONE
    out = terminal_from_flags(np.array([True, False, True, False]), np.array([True, True, False, False]))
    assert out.dtype == np.int8 and out.tolist() == [1, 2, 1, 0]


class Returns(Counter):
    """Returns whatever the test puts in `reset_states` / `step`, keeping valid defaults."""

    def __init__(self, states=None, reward=1.0, terminal=Terminal.NONE, info=None, step=None):
        super().__init__()
        self.override, self.reward, self.terminal, self.info, self.step = states or {}, reward, terminal, info, step

    def _states(self):
        return {**dict(count=np.int64(0), board=np.zeros(2, np.float32), caption='start'), **self.override}

    def _reset(self, seed):
        return self._states()

    def _execute(self, actions):
        if self.step is not None:
            return self.step
        return Step(self._states(), self.reward, self.terminal, self.info)


@pytest.mark.parametrize('override, key, why', [
    (dict(board=np.array([np.nan, 0], np.float32)), 'board', 'not finite'),
    (dict(board=np.zeros(3, np.float32)), 'board', 'shape (3,) instead of (2,)'),
    (dict(board=np.zeros((2,), object)), 'board', 'dtype object'),
    (dict(board=np.array([1e39, 0.0])), 'board', 'not finite'),
    (dict(board=np.array([2 ** 24 + 1, 0])), 'board', 'not exactly representable'),
    (dict(count=np.int64(101)), 'count', 'out of bounds'),
    (dict(count=np.array(-1)), 'count', 'out of bounds'),
    (dict(count=np.array(1.5)), 'count', 'dtype float64'),
    (dict(caption=np.array([1, 2])), 'caption', 'shape (2,)'),
    (dict(caption=np.array(3)), 'caption', 'an element of type int'),
    (dict(board=[[0.0], [1.0, 2.0]]), 'board', 'not an array'),
])
def test_states_an_environment_returns_are_validated_even_as_arrays(override, key, why):
    for make in (lambda: Returns(states=override).reset(), lambda: step_once(Returns(), override)):
        with pytest.raises(EnvironmentFailure, match=f"Returns._(reset|execute) returned an invalid state '{key}': "
                                                     'expected') as caught:
            make()
        assert why in str(caught.value)
        assert isinstance(caught.value.original, SpecError)


def step_once(env, override):
    env.reset()
    env.override = override
    return env.execute(dict(step=0))


def test_a_valid_array_state_is_returned_as_a_fresh_copy_of_the_same_dtype():
    env = Returns(states=dict(count=np.int64(3)))
    states = env.reset()
    assert states['count'].dtype == np.int64 and states['count'] == 3


@pytest.mark.parametrize('field, kwargs, received', [
    ('reward', dict(reward=None), 'NoneType None'),
    ('reward', dict(reward='1.5'), "str '1.5'"),
    ('reward', dict(reward=float('nan')), 'float nan'),
    ('reward', dict(reward=np.float32('inf')), 'float32 np.float32(inf)'),
    ('reward', dict(reward=10 ** 400), 'int 1000'),
    ('reward', dict(reward=True), 'bool True'),
    ('reward', dict(reward=np.array([1.0])), 'float64 array of shape (1,)'),
    ('terminal', dict(terminal=7), 'int 7'),
    ('terminal', dict(terminal=True), 'bool True'),
    ('terminal', dict(terminal='TERMINATED'), "str 'TERMINATED'"),
    ('info', dict(info=[('a', 1)]), 'list'),
    ('info', dict(info='x'), "str 'x'"),
    ('step', dict(step=(dict(), 1.0, 0, {})), 'tuple'),
])
def test_a_bad_reward_terminal_info_or_step_is_an_environment_failure_naming_the_field(field, kwargs, received):
    env = Returns(**kwargs)
    env.reset()
    with pytest.raises(EnvironmentFailure, match=f'^Returns._execute returned an invalid {field}: expected') as caught:
        env.execute(dict(step=0))
    assert received in str(caught.value)


@pytest.mark.parametrize('reward, expected', [(1, 1.0), (np.float32(0.5), 0.5), (np.array(2.0), 2.0),
                                              (np.int64(-3), -3.0)])
def test_real_rewards_of_any_numeric_type_become_floats(reward, expected):
    env = Returns(reward=reward, terminal=np.int8(2), info=None)
    env.reset()
    step = env.execute(dict(step=0))
    assert type(step.reward) is float and step.reward == expected
    assert step.terminal is Terminal.TRUNCATED and step.info == {}


from hypothesis import given, settings, strategies as st  # noqa: E402

junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=3), st.binary(max_size=3),
    st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=2)), max_size=3),
    st.builds(np.array, st.lists(st.floats(width=32), max_size=3)),
    st.builds(lambda n: np.zeros((n, 2), np.float32), st.integers(0, 2)),
    st.builds(lambda value: np.array(value, object), st.lists(st.integers(), max_size=2)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(count=junk, board=junk, caption=junk, reward=junk, terminal=junk, info=junk)
def test_anything_a_hook_returns_gives_a_valid_step_or_an_environment_failure(count, board, caption, reward,
                                                                              terminal, info):
    env = Returns(reward=reward, terminal=terminal, info=info)
    env.reset()
    env.override = dict(count=count, board=board, caption=caption)
    try:
        step = env.execute(dict(step=0))
    except EnvironmentFailure as error:
        assert str(error).startswith('Returns._execute returned an invalid ')
        return
    for name, spec in env.states.items():
        assert specs_lib.validate(spec, step.states[name]) is not None
    assert type(step.reward) is float and np.isfinite(step.reward)
    assert type(step.terminal) is Terminal and type(step.info) is dict
