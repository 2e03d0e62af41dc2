import os
import time

import numpy as np
import pytest

from modalbridge.bridges import (ConfigError, EnvironmentFailure, GymBridge, SpecError, Step, Terminal,
                                 VectorEnvironment)
from modalbridge.envs import ID

from tests.agents.test_runner import Ticks


def test_batched_states_rewards_terminals_and_same_call_reset():
    envs = VectorEnvironment([Ticks(length=2), Ticks(length=3)])
    states = envs.reset()
    assert states['t'].shape == (2, 1)
    envs.execute({'action': np.zeros(2, np.int64)})
    step = envs.execute({'action': np.zeros(2, np.int64)})
    assert step.terminal.tolist() == [Terminal.TERMINATED, Terminal.NONE]
    assert step.info['final_mask'].tolist() == [True, False]
    assert step.info['final_states']['t'][0].tolist() == [2.0]   # the last state of the finished episode
    assert step.states['t'][:, 0].tolist() == [0.0, 2.0]         # env 0 already reset


def test_text_states_batch_as_object_arrays():
    envs = VectorEnvironment([GymBridge(ID) for _ in range(3)])
    captions = envs.reset(seed=0)['caption']
    assert captions.shape == (3,) and captions.dtype == object and all(isinstance(c, str) for c in captions)


def test_worker_processes_match_in_process_stepping():
    local = VectorEnvironment([GymBridge(ID) for _ in range(2)])
    remote = VectorEnvironment([lambda: GymBridge(ID) for _ in range(2)], processes=True)
    try:
        a, b = local.reset(seed=3), remote.reset(seed=3)
        assert np.array_equal(a['image'], b['image']) and list(a['caption']) == list(b['caption'])
        for _ in range(30):
            actions = {'move': np.array([1, 2])}
            x, y = local.execute(actions), remote.execute(actions)
            assert np.array_equal(x.states['image'], y.states['image'])
            assert x.terminal.tolist() == y.terminal.tolist() and np.allclose(x.reward, y.reward)
            if x.info['final_mask'].any():
                assert np.array_equal(x.info['final_states']['image'], y.info['final_states']['image'])
    finally:
        remote.close()


class Crashing(Ticks):
    def _execute(self, actions):
        if self.t >= 2:
            os._exit(3)  # the worker process dies mid-episode
        return super()._execute(actions)


def test_a_worker_that_dies_is_an_error_naming_it_not_a_hang():
    envs = VectorEnvironment([lambda: Ticks(length=100), lambda: Crashing(length=100)], processes=True)
    envs.reset()
    start = time.perf_counter()
    with pytest.raises(EnvironmentFailure, match=r'VectorEnvironment: worker 1 failed \(exit code 3\)'):
        for _ in range(5):
            envs.execute({'action': np.zeros(2, np.int64)})
    assert time.perf_counter() - start < 30
    envs.close()


class Raising(Ticks):
    def _execute(self, actions):
        raise RuntimeError('sensor unplugged')


def test_a_worker_that_raises_is_an_error_with_the_original_message():
    envs = VectorEnvironment([lambda: Ticks(), lambda: Raising()], processes=True)
    envs.reset()
    with pytest.raises(EnvironmentFailure, match='sensor unplugged'):
        envs.execute({'action': np.zeros(2, np.int64)})
    envs.close()


def test_vector_configuration_errors():
    with pytest.raises(ConfigError, match='processes=True needs zero-argument factories'):
        VectorEnvironment([Ticks()], processes=True)
    with pytest.raises(ConfigError, match='a non-empty list'):
        VectorEnvironment([])
    with pytest.raises(ConfigError, match=r'envs\[1\].states differ from envs\[0\].states'):
        VectorEnvironment([Ticks(), GymBridge('CartPole-v1')])


def test_check_accepts_vector_environments_in_process_and_in_workers():
    from modalbridge.bridges import check
    report = check(VectorEnvironment([GymBridge('CartPole-v1') for _ in range(3)]), steps=50)
    assert report.ok and report.passed == ('specs', 'stable_specs', 'batched_steps', 'bad_actions', 'close')
    assert check(VectorEnvironment([lambda: GymBridge(ID) for _ in range(2)], processes=True), steps=30).ok


def test_check_reports_a_vector_environment_whose_final_mask_lies():
    from modalbridge.bridges import check

    class Liar(VectorEnvironment):
        def execute(self, actions):
            step = super().execute(actions)
            step.info['final_mask'] = np.zeros(self.num_envs, bool)
            return step
    report = check(Liar([Ticks(length=2), Ticks(length=2)]), steps=3, raise_on_failure=False)
    assert [name for name, _ in report.failures] == ['batched_steps']
    assert "info['final_mask']" in report.failures[0][1]


@pytest.mark.parametrize('processes', [False, True])
def test_missing_unknown_and_unbatched_actions_are_refused_alike(processes):
    envs = VectorEnvironment([lambda: Ticks(), lambda: Ticks()], processes=True) if processes else \
        VectorEnvironment([Ticks(), Ticks()])
    try:
        envs.reset()
        with pytest.raises(SpecError, match="'jump': expected the action keys \\['action'\\]; received unknown 'jump'"):
            envs.execute({'action': np.zeros(2, np.int64), 'jump': np.zeros(2)})
        with pytest.raises(SpecError, match="'action': expected the action keys \\['action'\\]; received missing 'action'"):
            envs.execute({})
        with pytest.raises(SpecError, match="'action': expected a leading batch axis of 2; received shape \\(3,\\)"):
            envs.execute({'action': np.zeros(3, np.int64)})
    finally:
        envs.close()
