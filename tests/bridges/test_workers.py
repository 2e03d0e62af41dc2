"""Worker processes with a share stepped in the calling process (`parent_share=True`)."""

from __future__ import annotations

import functools
import os

import gymnasium
import numpy as np
import pytest

from modalbridge.bridges import (ConfigError, Environment, EnvironmentFailure, GymBridge, ResetNeeded, Step, Terminal,
                                 VectorEnvironment)
from modalbridge.bridges.workers import split
from modalbridge.envs import ID


def caption_room() -> GymBridge:
    return GymBridge(ID, shaping=0.1)


def cartpole() -> GymBridge:
    return GymBridge('CartPole-v1')


class Boom(gymnasium.Wrapper):
    """A Gymnasium environment whose `count`-th step raises."""

    def __init__(self, env: gymnasium.Env, count: int):
        super().__init__(env)
        self.count, self.calls = count, 0

    def step(self, action):
        self.calls += 1
        if self.calls == self.count:
            raise RuntimeError('boom')
        return self.env.step(action)


class FailsAt:
    """A factory of CartPole bridges whose environment raises on its `count`-th step."""

    def __init__(self, count: int):
        self.count = count

    def __call__(self) -> GymBridge:
        return GymBridge(Boom(gymnasium.make('CartPole-v1'), self.count))


def run(envs: VectorEnvironment, steps: int) -> list:
    rng = np.random.default_rng(1)
    out = [envs.reset(seed=3)]
    for _ in range(steps):
        actions = {name: rng.integers(spec.minimum, spec.maximum + 1, envs.num_envs)
                   for name, spec in envs.actions.items()}
        out.append(envs.execute(actions))
    return out


def assert_same(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, tuple):  # BatchStep
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        np.testing.assert_array_equal(a, b)
        assert np.asarray(a).dtype == np.asarray(b).dtype


@pytest.mark.parametrize('num_envs, workers', [(5, 1), (6, 2)])
def test_parent_share_steps_exactly_as_in_process(num_envs, workers):
    with VectorEnvironment([caption_room] * num_envs) as local, \
            VectorEnvironment([caption_room] * num_envs, backend='processes', workers=workers,
                              parent_share=True) as shared:
        assert shared._workers.here == range(0, split(num_envs, workers + 1)[0].stop)
        expected, received = run(local, 40), run(shared, 40)
    assert any(step.info['final_mask'].any() for step in expected[1:])  # final states were compared too
    for a, b in zip(expected, received):
        assert_same(a, b)


def test_parent_share_with_preprocessing_matches_in_process():
    declaration = dict(image=[dict(type='normalize')])
    with VectorEnvironment([caption_room] * 4, preprocessing=declaration) as local, \
            VectorEnvironment([caption_room] * 4, backend='processes', workers=1, parent_share=True,
                              preprocessing=declaration) as shared:
        assert shared.states['image'].dtype == np.float32
        for a, b in zip(run(local, 25), run(shared, 25)):
            assert_same(a, b)


def test_parent_share_time_limit_reaches_both_sides():
    with VectorEnvironment([cartpole] * 4, backend='processes', workers=1, parent_share=True,
                           max_episode_timesteps=3) as envs:
        envs.reset(seed=0)
        for _ in range(2):
            step = envs.execute(dict(action=np.zeros(4, np.int64)))
            assert not step.info['final_mask'].any()
        step = envs.execute(dict(action=np.zeros(4, np.int64)))
        assert step.info['final_mask'].all()


def test_failure_in_the_parents_share_names_the_environment_and_keeps_the_workers_in_step():
    with VectorEnvironment([FailsAt(3), cartpole, cartpole, cartpole], backend='processes', workers=1,
                           parent_share=True) as envs:
        envs.reset(seed=0)
        envs.execute(dict(action=np.zeros(4, np.int64)))
        envs.execute(dict(action=np.zeros(4, np.int64)))
        with pytest.raises(EnvironmentFailure, match=r"^environment 0: .*RuntimeError\('boom'\)"):
            envs.execute(dict(action=np.zeros(4, np.int64)))
        with pytest.raises(ResetNeeded):
            envs.execute(dict(action=np.zeros(4, np.int64)))
        assert envs.reset(seed=0)['state'].shape == (4, 4)  # the pipes answer the next command in order
        assert envs.execute(dict(action=np.zeros(4, np.int64))).reward.shape == (4,)


def test_failure_in_a_worker_is_named_when_the_parent_has_a_share():
    with VectorEnvironment([cartpole, cartpole, FailsAt(2), cartpole], backend='processes', workers=1,
                           parent_share=True) as envs:
        envs.reset(seed=0)
        envs.execute(dict(action=np.zeros(4, np.int64)))
        with pytest.raises(EnvironmentFailure, match=r"worker 0, environment 2: .*RuntimeError\('boom'\)"):
            envs.execute(dict(action=np.zeros(4, np.int64)))


@pytest.mark.parametrize('kwargs, message', [
    (dict(parent_share=True), "parent_share=True needs backend='processes'; received backend='local'"),
    (dict(backend='processes', parent_share=1), 'parent_share'),
    (dict(backend='processes', workers=4, parent_share=True), 'workers'),
])
def test_bad_parent_share_configurations_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        VectorEnvironment([cartpole] * 4, **kwargs)


def test_parent_share_needs_two_environments():
    with pytest.raises(ConfigError, match='at least 2 environments'):
        VectorEnvironment([cartpole], backend='processes', parent_share=True)


def test_close_closes_the_parents_share_and_the_workers():
    envs = VectorEnvironment([cartpole] * 3, backend='processes', workers=1, parent_share=True)
    processes, local = envs._workers.processes, envs._workers.local
    envs.close()
    assert not any(process.is_alive() for process in processes)
    assert local is not None and all(env._closed for env in local.envs)


class Labelled(Environment):
    """A number and a text state (the step, as a word); episodes of `length` steps."""

    def __init__(self, length: int):
        super().__init__(states=dict(t=dict(type='float', shape=(2,)), label=dict(type='text')),
                         actions=dict(action=dict(type='int', num_values=2)))
        self.length = length

    def _states(self):
        return dict(t=np.array([self.t, self.length], np.float32), label=f'step {self.t} of {self.length}')

    def _reset(self, seed):
        self.t = 0
        return self._states()

    def _execute(self, actions):
        self.t += 1
        return Step(self._states(), float(self.t), Terminal.TERMINATED if self.t >= self.length else Terminal.NONE,
                    dict(t=self.t))


@pytest.mark.parametrize('parent_share, workers', [(True, 1), (False, 2), (True, 2)])
def test_final_states_come_from_whichever_shares_ended(parent_share, workers):
    # shares [0, 1] and [2, 3]: at steps 2 and 5 only the first share's episodes end, at 3 only the
    # second's, at 6 both, at 1 none; the numbers travel through shared memory, the words through pipes
    factories = [functools.partial(Labelled, length) for length in (2, 5, 3, 7)]
    with VectorEnvironment([factory() for factory in factories]) as local, \
            VectorEnvironment(factories, backend='processes', workers=workers, parent_share=parent_share) as remote:
        expected, received = run(local, 12), run(remote, 12)
    ended = [step.info['final_mask'].tolist() for step in expected[1:7]]
    assert ended == [[False] * 4, [True, False, False, False], [False, False, True, False],
                     [True, False, False, False], [False, True, False, False], [True, False, True, False]]
    assert received[2].info['final_states']['label'].tolist() == ['step 2 of 2', 'step 2 of 5', 'step 2 of 3',
                                                                  'step 2 of 7']
    for a, b in zip(expected, received):
        assert_same(a, b)


def test_a_timeout_longer_than_poll_can_wait_is_accepted():
    # poll() waits at most 2**31 - 1 ms at a time; a longer timeout is waited in parts (1e306 s: in milliseconds,
    # beyond the largest float)
    with VectorEnvironment([cartpole] * 2, backend='processes', workers=1, parent_share=True, timeout=1e306) as envs:
        envs.reset(seed=0)
        assert envs.execute(dict(action=np.zeros(2, np.int64))).reward.tolist() == [1.0, 1.0]


@pytest.mark.parametrize('method', ['reset', 'execute'])
def test_an_interruption_while_laying_out_the_parents_rows_stops_the_workers(monkeypatch, method):
    # this process lays out its share's rows while the workers still step theirs: interrupted there,
    # their answers would be lost, so the workers are stopped as when interrupted while stepping
    from modalbridge.bridges.workers import Workers
    envs = VectorEnvironment([cartpole] * 4, backend='processes', workers=1, parent_share=True)
    pids = envs._workers.pids
    if method == 'execute':
        envs.reset(seed=0)
    calls = []

    def interrupted(self, mine):
        if mine is not None and not calls:
            calls.append(mine)
            raise KeyboardInterrupt
        return {name: np.empty(shape, dtype) for name, (shape, dtype) in self.shared.layout.items()}
    monkeypatch.setattr(Workers, '_ours', interrupted)
    with pytest.raises(KeyboardInterrupt):
        envs.reset(seed=0) if method == 'reset' else envs.execute(dict(action=np.zeros(4, np.int64)))
    assert calls
    with pytest.raises(EnvironmentFailure, match=f'interrupted by KeyboardInterrupt during {method}; '
                                                 'the VectorEnvironment is closed'):
        envs.reset(seed=0)
    for pid in pids:
        assert not _alive(pid)
    envs.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
