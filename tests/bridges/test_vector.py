import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modalbridge.bridges import (ConfigError, Environment, EnvironmentFailure, GymBridge, ResetNeeded, SpecError,
                                 Step, Terminal, VectorEnvironment)
from modalbridge.envs import ID
from tests.bridges.helpers import Ticks





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
    assert report.ok and report.passed == ('specs', 'stable_specs', 'execute_before', 'batched_steps', 'bad_actions',
                                           'close')
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


# -- the whole batch is validated before any environment steps (issue 10) -------

def make(processes, factories, **kwargs):
    if processes:
        return VectorEnvironment(factories, processes=True, workers=len(factories), timeout=30, **kwargs)
    return VectorEnvironment([factory() for factory in factories], **kwargs)


@pytest.mark.parametrize('processes', [False, True])
def test_an_invalid_row_steps_no_environment(processes):
    envs = make(processes, [Ticks, Ticks, Ticks])
    try:
        envs.reset()
        with pytest.raises(SpecError, match=r"'action': expected .*received .*5\) \(out of bounds\) in row 2"):
            envs.execute({'action': [0, 1, 5]})
        step = envs.execute({'action': [0, 1, 1]})   # still usable, and nobody stepped before
        assert step.states['t'][:, 0].tolist() == [1.0, 1.0, 1.0]
    finally:
        envs.close()


class Typed(Environment):
    """A text action and a bool action; the state echoes the text's length."""

    def __init__(self):
        super().__init__(states=dict(n=dict(type='int', shape=(), num_values=100)),
                         actions=dict(word=dict(type='text'), flag=dict(type='bool')))

    def _reset(self, seed):
        return dict(n=0)

    def _execute(self, actions):
        return Step(dict(n=len(str(actions['word']))), float(actions['flag']), Terminal.NONE, {})


@pytest.mark.parametrize('actions, key', [
    ({'word': [3, 4], 'flag': [True, False]}, 'word'),     # was sent as '3', '4' to workers
    ({'word': ['a', 'b'], 'flag': [2, 0]}, 'flag'),          # was True in workers
    ({'word': ['a', 'b'], 'flag': [[1], [0]]}, 'flag'),
])
def test_worker_mode_refuses_exactly_what_in_process_refuses(actions, key):
    messages = []
    for processes in (False, True):
        envs = make(processes, [Typed, Typed])
        try:
            envs.reset()
            with pytest.raises(SpecError) as raised:
                envs.execute(actions)
            assert raised.value.key == key
            messages.append(str(raised.value))
            assert envs.execute({'word': ['ab', 'c'], 'flag': [True, False]}).reward.tolist() == [1.0, 0.0]
        finally:
            envs.close()
    assert messages[0] == messages[1]


def test_a_ragged_batch_is_a_spec_error_naming_the_key():
    envs = VectorEnvironment([Typed(), Typed()])
    envs.reset()
    with pytest.raises(SpecError, match="'flag'"):
        envs.execute({'word': ['a', 'b'], 'flag': [[1, 0], 0]})


# -- faults: hangs, deaths, interrupts, bad returns (issue 10) ---------------------

def alive(pid):
    """Whether process `pid` exists and is not a zombie (/proc, Linux)."""
    try:
        with open(f'/proc/{pid}/stat') as stat:
            return stat.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def wait_dead(pids, seconds=10.0):
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


class Hanging(Ticks):
    def _execute(self, actions):
        if self.t >= 1:
            time.sleep(1000)
        return super()._execute(actions)


def test_a_hanging_worker_times_out_naming_it_and_every_worker_is_stopped():
    envs = VectorEnvironment([Ticks, Ticks, Hanging], processes=True, workers=3, timeout=1.5)
    pids = envs._workers.pids
    envs.reset()
    envs.execute({'action': [0, 0, 0]})
    start = time.monotonic()
    with pytest.raises(EnvironmentFailure, match=r'worker 2 \(environments 2\) did not answer execute within 1.5 s'):
        envs.execute({'action': [0, 0, 0]})
    assert time.monotonic() - start < 10
    assert wait_dead(pids) == []
    with pytest.raises(EnvironmentFailure, match='did not answer execute .* the VectorEnvironment is closed'):
        envs.reset()
    envs.close()


PARENT = """
import time
from modalbridge.bridges import Environment, Step, Terminal, VectorEnvironment

class Hanging(Environment):
    def __init__(self):
        super().__init__(states=dict(t=dict(type='float')), actions=dict(action=dict(type='int', num_values=2)))

    def _reset(self, seed):
        return dict(t=0.0)

    def _execute(self, actions):
        time.sleep(1000)

envs = VectorEnvironment([Hanging, Hanging], processes=True, workers=2, timeout=600)
print(*envs._workers.pids, flush=True)
envs.reset()
envs.execute({'action': [0, 0]})
"""


def test_workers_exit_when_their_parent_is_killed():
    script = PARENT
    parent = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    pids = []
    try:
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        time.sleep(0.5)                                   # the parent now waits on the hung worker
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert wait_dead(pids) == []
    finally:
        parent.kill()
        parent.stdout.close()
        for pid in pids:   # do not leave orphans behind when this test fails
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


class Slow(Ticks):
    def _execute(self, actions):
        time.sleep(0.3)
        return super()._execute(actions)


def test_ctrl_c_in_worker_mode_closes_the_environment_with_a_clear_message(ctrl_c):
    envs = VectorEnvironment([Slow, Slow], processes=True, workers=2)
    pids = envs._workers.pids
    envs.reset()
    for pid in pids:        # Ctrl-C reaches the whole process group: workers leave it to the parent
        os.kill(pid, signal.SIGINT)
    envs.execute({'action': [0, 0]})
    timer = threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        envs.execute({'action': [0, 0]})
    assert wait_dead(pids) == []
    with pytest.raises(EnvironmentFailure, match='interrupted by KeyboardInterrupt during execute; '
                                                 'the VectorEnvironment is closed, create a new one'):
        envs.execute({'action': [0, 0]})
    envs.close()


class Interrupted(Ticks):
    def _execute(self, actions):
        if self.t == 1:
            raise KeyboardInterrupt
        return super()._execute(actions)


def test_ctrl_c_in_process_asks_for_a_reset_then_works(ctrl_c):
    envs = VectorEnvironment([Ticks(length=9), Interrupted(length=9)])
    envs.reset()
    envs.execute({'action': [0, 0]})
    with pytest.raises(KeyboardInterrupt):
        envs.execute({'action': [0, 0]})
    with pytest.raises(ResetNeeded, match=r'the last execute\(\) did not complete \(interrupted\); call reset'):
        envs.execute({'action': [0, 0]})
    envs.reset()
    assert envs.execute({'action': [0, 0]}).states['t'][:, 0].tolist() == [1.0, 1.0]


class RaisingOnce(Ticks):
    def _execute(self, actions):
        if self.t == 1 and not getattr(self, 'raised', False):
            self.raised = True
            raise RuntimeError('sensor unplugged')
        return super()._execute(actions)


@pytest.mark.parametrize('processes', [False, True])
def test_after_an_environment_error_a_reset_makes_it_usable_again(processes):
    envs = make(processes, [Ticks, RaisingOnce])
    try:
        envs.reset()
        envs.execute({'action': [0, 0]})
        with pytest.raises(EnvironmentFailure, match='environment 1: .*sensor unplugged'):
            envs.execute({'action': [0, 0]})
        with pytest.raises(ResetNeeded, match='sensor unplugged.*call reset'):
            envs.execute({'action': [0, 0]})
        envs.reset()
        assert envs.execute({'action': [0, 0]}).states['t'][:, 0].tolist() == [1.0, 1.0]
    finally:
        envs.close()


def returning(**fields):
    class Env(Ticks):
        def _execute(self, actions):
            step = super()._execute(actions)
            return step._replace(**fields) if self.t >= 2 else step
    return Env


@pytest.mark.parametrize('processes', [False, True])
@pytest.mark.parametrize('fields, message', [
    (dict(states=dict(t=np.zeros(2, np.float32))),
     r"environment 1: Env._execute returned an invalid state 't': .*shape \(2,\) instead of \(1,\)"),
    (dict(states=dict(t=np.array([np.nan], np.float32))),
     r"environment 1: Env._execute returned an invalid state 't': .*not finite"),
    (dict(states=dict(t=[1.0, 2.0])),
     r"environment 1: Env._execute returned an invalid state 't': .*shape \(2,\) instead of \(1,\)"),
    (dict(states=dict()), r"environment 1: Env._execute returned an invalid states: expected the state keys \['t'\]"),
    (dict(reward=None), 'environment 1: Env._execute returned an invalid reward: .*received NoneType None'),
    (dict(reward='1.5'), "environment 1: Env._execute returned an invalid reward: .*received str '1.5'"),
    (dict(terminal=7), 'environment 1: Env._execute returned an invalid terminal: .*received int 7'),
    (dict(info=[1, 2]), r'environment 1: Env._execute returned an invalid info: .*received list \[1, 2\]'),
])
def test_a_bad_return_is_an_environment_failure_naming_the_environment_and_field(processes, fields, message):
    envs = make(processes, [Ticks, returning(**fields)])
    try:
        envs.reset()
        envs.execute({'action': [0, 0]})
        with pytest.raises(EnvironmentFailure, match=('VectorEnvironment: worker 1, ' if processes else '^') + message):
            envs.execute({'action': [0, 0]})
    finally:
        envs.close()


def test_states_of_another_dtype_are_converted_as_one_environment_converts_them():
    """A float64 state for a float32 spec is converted (as `Environment.execute` does), row by row:
    the batch's quick path takes exact dtypes only."""
    envs = VectorEnvironment([Ticks(), returning(states=dict(t=np.array([2.5])))()])
    envs.reset()
    envs.execute({'action': [0, 0]})
    step = envs.execute({'action': [0, 0]})
    assert step.states['t'].dtype == np.float32 and step.states['t'][:, 0].tolist() == [2.0, 2.5]


def test_close_stops_every_worker_and_is_idempotent():
    envs = VectorEnvironment([Ticks] * 4, processes=True, workers=2)
    pids = envs._workers.pids
    assert envs.num_envs == 4 and len(pids) == 2
    envs.close()
    envs.close()
    assert not any(alive(pid) for pid in pids)
    with pytest.raises(ResetNeeded, match='VectorEnvironment: closed'):
        envs.reset()


def test_a_factory_that_fails_in_a_worker_names_it():
    def broken():
        raise OSError('no display')
    with pytest.raises(EnvironmentFailure, match='worker 1 could not build its environments: .*no display'):
        VectorEnvironment([Ticks, broken], processes=True, workers=2)


@pytest.mark.parametrize('kwargs, message', [
    (dict(processes=True, workers=3), 'workers: expected an int in'),
    (dict(processes=True, workers=True), 'workers'),
    (dict(processes=True, timeout=0), 'timeout'),
    (dict(processes=True, timeout=float('nan')), 'timeout'),
    (dict(processes=1), 'processes'),
    (dict(workers=2), 'workers= needs processes=True'),
])
def test_worker_configuration_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        VectorEnvironment([Ticks, Ticks], **kwargs)


def test_check_runs_every_bad_action_case_on_a_batch():
    from modalbridge.bridges import check
    from modalbridge.bridges import conformance

    class Clipping(VectorEnvironment):
        def execute(self, actions):
            return super().execute({name: np.clip(value, 0, 1) if np.asarray(value).dtype.kind == 'i' else value
                                    for name, value in actions.items()})
    report = check(Clipping([Ticks(), Ticks()]), steps=3, raise_on_failure=False)
    assert report.failures == (('bad_actions', conformance.BAD_ACTION_ACCEPTED.format(
        case="'action' above its maximum", key='action')),)


# -- one time-limit mechanism, in every mode (issue 18) -----------------------------

@pytest.mark.parametrize('processes', [False, True])
def test_a_limit_set_like_the_runner_does_truncates_in_every_mode(processes):
    envs = make(processes, [lambda: Ticks(length=100)] * 2)
    try:
        assert envs.max_episode_timesteps is None
        envs.max_episode_timesteps = 3                        # what Runner.run(max_episode_timesteps=3) does
        assert envs.max_episode_timesteps == 3
        envs.reset()
        terminals = [envs.execute({'action': [0, 0]}).terminal.tolist() for _ in range(4)]
        assert terminals == [[0, 0], [0, 0], [Terminal.TRUNCATED] * 2, [0, 0]]
    finally:
        envs.close()


@pytest.mark.parametrize('processes', [False, True])
def test_a_limit_given_at_construction_is_each_sub_environment_s_own(processes):
    envs = make(processes, [lambda: Ticks(length=100)] * 2, max_episode_timesteps=2)
    try:
        if not processes:
            assert [env.max_episode_timesteps for env in envs.envs] == [2, 2]
        envs.reset()
        envs.execute({'action': [0, 0]})
        step = envs.execute({'action': [0, 0]})
        assert step.terminal.tolist() == [Terminal.TRUNCATED] * 2 and step.info['final_mask'].all()
        assert step.info['final_states']['t'][:, 0].tolist() == [2.0, 2.0]
    finally:
        envs.close()


@pytest.mark.parametrize('limit', [0, -1, 2.5, True, '3'])
def test_a_bad_limit_is_refused_in_every_mode(limit):
    envs = VectorEnvironment([Ticks(), Ticks()])
    with pytest.raises(ConfigError, match='max_episode_timesteps: expected a positive int or None'):
        envs.max_episode_timesteps = limit
    with pytest.raises(ConfigError, match='max_episode_timesteps: expected a positive int or None'):
        Ticks().max_episode_timesteps = limit


def test_the_info_has_one_shape_in_both_modes():
    local = VectorEnvironment([Ticks(length=2), Ticks(length=3)])
    remote = make(True, [lambda: Ticks(length=2), lambda: Ticks(length=3)])
    try:
        for envs in (local, remote):
            envs.reset()
            envs.execute({'action': [0, 0]})
            step = envs.execute({'action': [0, 0]})
            assert sorted(step.info) == ['final_mask', 'final_states', 'infos']
            assert step.info['infos'] == [{}, {}]
            assert step.reward.dtype == np.float64 and step.terminal.dtype == np.int8
    finally:
        remote.close()


# -- one batched protocol: several environments per worker, shared memory (issue 15) -

@pytest.mark.parametrize('workers', [1, 2])
def test_several_environments_per_worker_step_exactly_like_in_process(workers):
    local = VectorEnvironment([GymBridge(ID) for _ in range(3)])
    remote = VectorEnvironment([lambda: GymBridge(ID) for _ in range(3)], processes=True, workers=workers)
    try:
        a, b = local.reset(seed=7), remote.reset(seed=7)
        assert all(np.array_equal(a[k], b[k]) for k in a)
        rng, finals = np.random.default_rng(0), 0
        for _ in range(60):
            actions = {'move': rng.integers(0, 4, 3)}
            x, y = local.execute(actions), remote.execute(actions)
            assert all(np.array_equal(x.states[k], y.states[k]) for k in x.states)
            assert x.terminal.tolist() == y.terminal.tolist() and x.reward.tolist() == y.reward.tolist()
            assert x.info['final_mask'].tolist() == y.info['final_mask'].tolist()
            assert x.info['infos'] == y.info['infos']
            if x.info['final_mask'].any():
                finals += 1
                assert all(np.array_equal(x.info['final_states'][k], y.info['final_states'][k])
                           for k in x.info['final_states'])
        assert finals > 0
    finally:
        remote.close()


def test_worker_states_are_fresh_arrays():
    envs = VectorEnvironment([lambda: GymBridge(ID) for _ in range(2)], processes=True)
    try:
        first = envs.reset(seed=0)
        image = first['image'].copy()
        second = envs.execute({'move': [0, 0]}).states
        assert not np.shares_memory(first['image'], second['image'])
        second['image'][...] = 0
        assert np.array_equal(first['image'], image)
    finally:
        envs.close()


def test_the_runner_s_time_limit_holds_under_processes():
    from modalbridge.agents import RandomAgent, Runner
    envs = VectorEnvironment([lambda: Ticks(length=100)] * 2, processes=True)
    try:
        history = Runner(RandomAgent(envs.states, envs.actions, parallel=2, seed=0), envs).run(
            episodes=4, max_episode_timesteps=3, progress=False)
        assert history.episode_lengths[:4] == [3, 3, 3, 3]
    finally:
        envs.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.dictionaries(
    st.sampled_from(['word', 'flag', 'other']),
    st.one_of(st.lists(st.one_of(st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=2),
                                 st.none(), st.lists(st.integers(0, 1), max_size=2)), max_size=3),
              st.integers(), st.text(max_size=2), st.none()),
    max_size=3))
def test_any_batch_is_either_valid_rows_or_a_spec_error_and_never_half_applied(batch):
    envs = VectorEnvironment([Typed(), Typed()])
    envs.reset()
    try:
        step = envs.execute(batch)
    except SpecError as error:
        assert error.key in ('word', 'flag', 'other', 'actions')
        assert [env.timestep for env in envs.envs] == [0, 0]
    else:
        assert step.reward.shape == (2,) and [env.timestep for env in envs.envs] == [1, 1]


def test_workers_of_a_forgotten_vector_environment_are_stopped():
    import gc
    envs = VectorEnvironment([Ticks] * 2, processes=True)
    pids = envs._workers.pids
    envs.reset()
    del envs
    gc.collect()
    assert wait_dead(pids, seconds=15) == []


@pytest.fixture(scope='module')
def typed_pair():
    local, remote = VectorEnvironment([Typed(), Typed()]), make(True, [Typed, Typed])
    yield local, remote
    remote.close()


def test_text_actions_reach_workers_intact(typed_pair):
    for envs in typed_pair:
        envs.reset()
        assert envs.execute({'word': ['a\x00', ''], 'flag': [0, 1]}).states['n'].tolist() == [2, 0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.dictionaries(
    st.sampled_from(['word', 'flag']),
    st.lists(st.one_of(st.booleans(), st.integers(-2, 2), st.floats(), st.text(max_size=2), st.none()),
             min_size=1, max_size=3),
    max_size=2))
def test_both_modes_give_the_same_answer_to_any_batch(typed_pair, batch):
    answers = []
    for envs in typed_pair:
        envs.reset()
        try:
            answers.append(envs.execute(batch).states['n'].tolist())
        except SpecError as error:
            answers.append(str(error))
    assert answers[0] == answers[1]


# -- plain GymBridges in one process take GymColumns' path: it must be the general path's twin --------

class _Subclass(GymBridge):
    """A GymBridge the batch does not recognise as plain: stepped through the general path."""


@pytest.mark.parametrize('env_id', ['CartPole-v1', 'Pendulum-v1', 'MountainCar-v0', 'FrozenLake-v1'])
def test_plain_gym_bridges_step_as_the_general_path_does(env_id):
    lean = VectorEnvironment([GymBridge(env_id) for _ in range(3)], max_episode_timesteps=7)
    general = VectorEnvironment([_Subclass(env_id) for _ in range(3)], max_episode_timesteps=7)
    assert lean._backend._gym is not None and general._backend._gym is None
    rng = np.random.default_rng(0)
    spec = lean.actions['action']
    for envs in (lean, general):
        envs.reset(seed=3)
    for _ in range(40):
        if spec.dtype.kind == 'f':
            action = rng.uniform(spec.minimum, spec.maximum, (3,) + spec.shape).astype(spec.dtype)
        else:
            action = rng.integers(0, spec.num_values, 3).astype(spec.dtype)
        one, two = (envs.execute({'action': action}) for envs in (lean, general))
        assert np.array_equal(one.states['state'], two.states['state'])
        assert one.states['state'].dtype == two.states['state'].dtype
        assert one.reward.tolist() == two.reward.tolist() and one.terminal.tolist() == two.terminal.tolist()
        assert one.info['final_mask'].tolist() == two.info['final_mask'].tolist()
        assert ('final_states' in one.info) == ('final_states' in two.info)
        if 'final_states' in one.info:
            assert np.array_equal(one.info['final_states']['state'], two.info['final_states']['state'])
        assert one.info['infos'] == two.info['infos']
    assert [env.timestep for env in lean.envs] == [env.timestep for env in general.envs]
    lean.close()
    general.close()


class _Faulty(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, fault=None):
        self.fault, self.t = fault, 0

    def reset(self, *, seed=None, options=None):
        if self.fault == 'reset' and self.t:
            raise RuntimeError('no reset')
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        observation, reward, info = np.zeros(2, np.float32), 0.0, {}
        if self.t >= 2:
            if self.fault == 'raise':
                raise RuntimeError('cable cut')
            if self.fault == 'nan':
                observation = np.array([np.nan, 0], np.float32)
            if self.fault == 'bounds':
                observation = np.array([0, 2], np.float32)
            if self.fault == 'float64':
                observation = np.array([0.5, 0], np.float64)
            if self.fault == 'reward':
                reward = None
        return observation, reward, self.fault == 'reset' and self.t >= 2, False, info


@pytest.mark.parametrize('fault, message', [
    ('raise', r"environment 1: GymBridge._execute failed: RuntimeError\('cable cut'\)"),
    ('nan', r"environment 1: GymBridge._execute returned an invalid state 'state': .*not finite"),
    ('bounds', r"environment 1: GymBridge._execute returned an invalid state 'state': .*out of bounds"),
    ('reward', r'environment 1: GymBridge._execute returned an invalid reward: .*received NoneType None'),
    ('reset', r"environment 1: GymBridge._reset failed: RuntimeError\('no reset'\)"),
])
def test_plain_gym_bridges_fail_naming_the_environment_and_the_field(fault, message):
    envs = VectorEnvironment([GymBridge(_Faulty()), GymBridge(_Faulty(fault))])
    assert envs._backend._gym is not None
    envs.reset()
    envs.execute({'action': np.zeros(2, np.int64)})
    with pytest.raises(EnvironmentFailure, match=message):
        envs.execute({'action': np.zeros(2, np.int64)})
    envs.close()


def test_plain_gym_bridges_convert_a_float64_observation_as_one_bridge_does_and_refuse_a_closed_one():
    envs = VectorEnvironment([GymBridge(_Faulty()), GymBridge(_Faulty('float64'))])
    envs.reset()
    envs.execute({'action': np.zeros(2, np.int64)})
    step = envs.execute({'action': np.zeros(2, np.int64)})
    assert step.states['state'].dtype == np.float32 and step.states['state'][:, 0].tolist() == [0.0, 0.5]
    envs.envs[1].close()
    with pytest.raises(EnvironmentFailure, match='environment 1: ResetNeeded: .*closed'):
        envs.execute({'action': np.zeros(2, np.int64)})
    envs.close()
