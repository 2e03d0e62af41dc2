"""VectorEnvironment(backend='ray'): Ray actors stepping shares of the environments like every other backend."""

import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

from modalbridge.bridges import (ConfigError, EnvironmentFailure, GymBridge, ResetNeeded, SpecError,
                                 Terminal, VectorEnvironment)
from tests.bridges.helpers import Ticks

ray = pytest.importorskip('ray', reason="the 'ray' extra is not installed (pip install 'modalbridge[ray]')")

CARTPOLE = 'CartPole-v1'




class Raising(Ticks):
    def _execute(self, actions):
        raise RuntimeError('the simulator crashed')


class Hanging(Ticks):
    def _execute(self, actions):
        time.sleep(600)


class Slow(Ticks):
    def _execute(self, actions):
        time.sleep(1.0)
        return super()._execute(actions)


def cartpole():
    return GymBridge(CARTPOLE)


def alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as stat:
            return stat.read().split(')')[-1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def wait_gone(pids, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if alive(pid)]


def test_backend_configuration_errors_need_no_ray():
    with pytest.raises(ConfigError, match='backend'):
        VectorEnvironment([Ticks], backend='threads')
    with pytest.raises(ConfigError, match="processes=True contradicts backend='ray'"):
        VectorEnvironment([Ticks], processes=True, backend='ray')
    with pytest.raises(ConfigError, match="backend='ray' needs zero-argument factories"):
        VectorEnvironment([Ticks()], backend='ray')
    with pytest.raises(ConfigError, match='max_restarts'):
        VectorEnvironment([Ticks], backend='ray', max_restarts=-1)


def test_without_ray_the_bridges_import_and_the_ray_backend_says_what_to_install():
    script = ("import sys; sys.modules['ray'] = None\n"
              "import modalbridge.bridges as b\n"
              "try:\n"
              "    b.VectorEnvironment([lambda: b.GymBridge('CartPole-v1')], backend='ray')\n"
              "except b.ConfigError as error:\n"
              "    print(error)\n")
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120)
    assert "pip install 'modalbridge[ray]'" in out.stdout, out.stderr


@pytest.mark.usefixtures('local_ray')
class TestOnALocalRay:

    @pytest.fixture(scope='class')
    def local_ray(self):
        ray.init(num_cpus=2, include_dashboard=False, logging_level='WARNING')
        yield
        ray.shutdown()

    def test_ray_workers_step_exactly_like_in_process(self):
        local = VectorEnvironment([cartpole() for _ in range(3)])
        remote = VectorEnvironment([cartpole] * 3, backend='ray', workers=2, timeout=60)
        try:
            assert [len(share) for share in remote._workers.shares] == [2, 1]
            np.testing.assert_array_equal(local.reset(seed=5)['state'], remote.reset(seed=5)['state'])
            finals = 0
            for step in range(40):
                actions = dict(action=np.array([step % 2, 1, 1]))
                a, b = local.execute(actions), remote.execute(actions)
                np.testing.assert_array_equal(a.states['state'], b.states['state'])
                np.testing.assert_array_equal(a.reward, b.reward)
                np.testing.assert_array_equal(a.terminal, b.terminal)
                np.testing.assert_array_equal(a.info['final_mask'], b.info['final_mask'])
                assert b.info['infos'] == a.info['infos']
                if a.info['final_mask'].any():
                    finals += 1
                    mask = a.info['final_mask']
                    np.testing.assert_array_equal(a.info['final_states']['state'][mask],
                                                  b.info['final_states']['state'][mask])
            assert finals > 0
        finally:
            local.close()
            remote.close()

    def test_preprocessing_runs_in_the_workers_and_gives_the_numbers_of_preprocessed_vector(self):
        from modalbridge.preprocess.environment import PreprocessedVector
        declaration = [dict(type='sequence', length=3)]
        local = PreprocessedVector(VectorEnvironment([cartpole() for _ in range(2)]), declaration)
        remote = VectorEnvironment([cartpole] * 2, backend='ray', workers=2, preprocessing=declaration)
        try:
            assert remote.states['state'].shape == (12,)
            np.testing.assert_array_equal(local.reset(seed=1)['state'], remote.reset(seed=1)['state'])
            for _ in range(30):
                a, b = local.execute(dict(action=np.ones(2, np.int64))), remote.execute(dict(action=np.ones(2, np.int64)))
                np.testing.assert_array_equal(a.states['state'], b.states['state'])
                if a.info['final_mask'].any():
                    np.testing.assert_array_equal(a.info['final_states']['state'], b.info['final_states']['state'])
        finally:
            local.close()
            remote.close()

    def test_the_batch_is_validated_before_any_worker_steps(self):
        envs = VectorEnvironment([Ticks] * 2, backend='ray', workers=2)
        try:
            envs.reset()
            with pytest.raises(SpecError, match='action'):
                envs.execute(dict(action=np.array([0, 7])))
            with pytest.raises(SpecError, match='missing'):
                envs.execute({})
            step = envs.execute(dict(action=np.zeros(2, np.int64)))
            assert step.states['t'][:, 0].tolist() == [1.0, 1.0]  # the refused batches stepped nothing
        finally:
            envs.close()

    def test_an_environment_error_names_the_worker_and_a_reset_makes_it_usable_again(self):
        envs = VectorEnvironment([Ticks, Raising], backend='ray', workers=2)
        try:
            envs.reset()
            with pytest.raises(EnvironmentFailure, match='worker 1, environment 1: .*the simulator crashed'):
                envs.execute(dict(action=np.zeros(2, np.int64)))
            with pytest.raises(ResetNeeded, match='call reset'):
                envs.execute(dict(action=np.zeros(2, np.int64)))
            assert envs.reset()['t'].shape == (2, 1)
        finally:
            envs.close()

    def test_a_limit_set_like_the_runner_does_truncates(self):
        envs = VectorEnvironment([lambda: Ticks(length=100)] * 2, backend='ray', workers=2)
        try:
            envs.max_episode_timesteps = 2
            assert envs.max_episode_timesteps == 2
            envs.reset()
            envs.execute(dict(action=np.zeros(2, np.int64)))
            step = envs.execute(dict(action=np.zeros(2, np.int64)))
            assert step.terminal.tolist() == [Terminal.TRUNCATED] * 2
            assert step.info['final_states']['t'][:, 0].tolist() == [2.0, 2.0]
        finally:
            envs.close()

    def test_a_hanging_worker_times_out_naming_it(self):
        envs = VectorEnvironment([Ticks, Hanging], backend='ray', workers=2, timeout=2)
        envs.reset()
        pids = envs._workers.pids
        with pytest.raises(EnvironmentFailure, match=r'Ray worker 1 \(environments 1\) did not answer execute '
                                                     r'within 2 s'):
            envs.execute(dict(action=np.zeros(2, np.int64)))
        with pytest.raises(EnvironmentFailure, match='closed, create a new one'):
            envs.reset()
        envs.close()
        assert wait_gone(pids) == []

    def test_a_killed_worker_is_restarted_and_reported_then_past_the_bound_raises(self):
        envs = VectorEnvironment([lambda: Ticks(length=100)] * 4, backend='ray', workers=2, max_restarts=1,
                                 max_episode_timesteps=50)
        try:
            envs.reset()
            before = envs.execute(dict(action=np.zeros(4, np.int64)))
            os.kill(envs._workers.pids[1], 9)  # the process dies, as on a lost node
            with pytest.warns(RuntimeWarning, match=r'Ray worker 1 \(environments 2-3\) died during execute and '
                                                    r'was restarted \(restart 1 of max_restarts=1\)'):
                step = envs.execute(dict(action=np.zeros(4, np.int64)))
            assert step.info['final_mask'].tolist() == [False, False, True, True]
            assert step.terminal.tolist() == [0, 0, Terminal.TRUNCATED, Terminal.TRUNCATED]
            assert step.reward.tolist() == [1.0, 1.0, 0.0, 0.0]
            assert 'dropped' in step.info['infos'][2] and 'dropped' not in step.info['infos'][0]
            np.testing.assert_array_equal(step.info['final_states']['t'][2:], before.states['t'][2:])
            assert step.states['t'][:, 0].tolist() == [2.0, 2.0, 0.0, 0.0]  # new episodes on the restarted worker
            assert envs.max_episode_timesteps == 50
            assert envs._workers.restarts == [0, 1]
            with warnings.catch_warnings():
                warnings.simplefilter('error')
                assert envs.execute(dict(action=np.zeros(4, np.int64))).states['t'][:, 0].tolist() == [3, 3, 1, 1]
            _, description = ray.get(envs._workers.actors[1].describe.remote())
            os.kill(description['pid'], 9)  # the restarted worker's process dies too: past the bound
            assert wait_gone([description['pid']]) == []
            with pytest.raises(EnvironmentFailure, match=r'Ray worker 1 \(environments 2-3\) died during execute '
                                                         r'\(1 restarts, max_restarts=1\)'):
                envs.execute(dict(action=np.zeros(4, np.int64)))
        finally:
            pids = envs._workers.pids
            envs.close()
        assert wait_gone(pids) == []

    def test_close_stops_every_actor_and_is_idempotent(self):
        envs = VectorEnvironment([Ticks] * 4, backend='ray', workers=2)
        envs.reset()
        pids = envs._workers.pids
        assert all(alive(pid) for pid in pids)
        envs.close()
        envs.close()
        assert wait_gone(pids) == []
        with pytest.raises(ResetNeeded, match='closed'):
            envs.reset()

    def test_ctrl_c_while_waiting_stops_every_actor_and_says_so(self, ctrl_c):
        envs = VectorEnvironment([Slow, Slow], backend='ray', workers=2)
        envs.reset()
        pids = envs._workers.pids
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            envs.execute(dict(action=np.zeros(2, np.int64)))
        timer.join()
        with pytest.raises(EnvironmentFailure, match='interrupted by KeyboardInterrupt during execute'):
            envs.reset()
        envs.close()
        assert wait_gone(pids) == []

    def test_a_factory_that_fails_in_a_worker_names_it(self):
        def broken():
            raise OSError('no display')
        with pytest.raises(EnvironmentFailure, match='Ray worker 1 could not build its environments: .*no display'):
            VectorEnvironment([Ticks, broken], backend='ray', workers=2)

    def test_a_factory_the_workers_cannot_import_is_an_error_naming_the_worker_and_the_module(self, tmp_path,
                                                                                               monkeypatch):
        (tmp_path / 'only_here.py').write_text('from tests.bridges.test_ray_workers import Ticks\n'
                                               'def make():\n    return Ticks()\n')
        monkeypatch.syspath_prepend(str(tmp_path))  # the driver sees the module, the actors do not
        import only_here
        with pytest.raises(EnvironmentFailure, match=r"Ray worker 0 \(environments 0-1\) could not be started: "
                                                     r".*No module named 'only_here'"):
            VectorEnvironment([only_here.make] * 2, backend='ray', workers=1)

    def test_check_accepts_a_ray_vector_environment(self):
        from modalbridge.bridges import check
        assert check(VectorEnvironment([cartpole] * 2, backend='ray', workers=2), steps=20).ok


def test_a_two_node_cluster_places_workers_on_both_nodes_and_runs_a_rollout():
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, head_node_args=dict(num_cpus=1))
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address, logging_level='WARNING')
        cluster.wait_for_nodes()
        envs = VectorEnvironment([cartpole] * 4, backend='ray', workers=2, timeout=120)
        try:
            assert len(set(envs._workers.nodes)) == 2  # one actor on each node
            envs.reset(seed=0)
            episodes = 0
            for _ in range(100):
                episodes += int(envs.execute(dict(action=np.ones(4, np.int64))).info['final_mask'].sum())
            assert episodes > 4
            pids = envs._workers.pids
        finally:
            envs.close()
        assert wait_gone(pids) == []
    finally:
        ray.shutdown()
        cluster.shutdown()
