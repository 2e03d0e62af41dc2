import numpy as np
import pytest

from modalbridge.bridges import Terminal
from modalbridge.bridges.errors import ConfigError, ResetNeeded, SpecError

envpool = pytest.importorskip('envpool')
from modalbridge.bridges.envpool import EnvPoolBridge  # noqa: E402

TASK = 'MiniGrid-GoToDoor-5x5-v0'


@pytest.fixture
def env():
    with EnvPoolBridge(TASK, num_envs=4, seed=3) as bridged:
        yield bridged


def test_mission_bytes_become_a_text_state(env):
    assert env.states['mission'].dtype == object or env.states['mission'].dtype.kind in 'OU'
    states = env.reset()
    assert states['mission'].dtype == object and states['mission'].shape == (4,)
    assert all(text.startswith('go to the ') and text.endswith(' door') for text in states['mission'])
    assert states['image'].shape == (4, 7, 7, 3) and states['image'].dtype == np.uint8
    assert states['direction'].dtype == env.states['direction'].dtype


def test_states_equal_raw_envpool_until_the_first_end(env):
    raw = envpool.make(TASK, env_type='gymnasium', num_envs=4, seed=3)
    ours, (theirs, _) = env.reset(), raw.reset()
    rng = np.random.default_rng(0)
    for _ in range(30):
        np.testing.assert_array_equal(ours['image'], theirs['image'])
        np.testing.assert_array_equal(ours['direction'], theirs['direction'])
        actions = rng.integers(0, 3, 4)  # left, right, forward: no episode ends but by time
        step = env.execute({'action': actions})
        theirs, reward, terminated, truncated, _ = raw.step(actions)
        ours = step.states
        np.testing.assert_array_equal(step.reward, reward)
        if (terminated | truncated).any():
            break


def test_an_ended_environment_restarts_in_the_same_call(env):
    env.reset()
    done_action = np.full(4, 6)  # 'done' ends a GoToDoor episode at once
    step = env.execute({'action': np.array([6, 0, 0, 0])})
    assert step.terminal.tolist() == [Terminal.TERMINATED, 0, 0, 0]
    assert step.info['final_mask'].tolist() == [True, False, False, False]
    assert step.info['elapsed_step'][0] == 1
    # the next step is the new episode's first: its action is not swallowed by EnvPool's own reset
    step = env.execute({'action': done_action})
    assert step.terminal.tolist() == [Terminal.TERMINATED] * 4
    assert step.info['elapsed_step'].tolist() == [1, 2, 2, 2]


def test_truncation_at_envpool_time_limit():
    with EnvPoolBridge(TASK, num_envs=2, seed=0, max_episode_steps=5) as env:
        assert env.max_episode_timesteps == 5
        env.reset()
        terminals = [env.execute({'action': np.zeros(2, np.int64)}).terminal.tolist() for _ in range(5)]
        assert terminals[-1] == [Terminal.TRUNCATED] * 2 and terminals[0] == [0, 0]


def test_the_time_limit_cannot_be_set_afterwards_directly_or_through_preprocessing():
    # both were an AttributeError ("property has no setter"), found by mypy
    from modalbridge.preprocess import PreprocessedVector
    with EnvPoolBridge(TASK, num_envs=2, seed=0, max_episode_steps=5) as env:
        with pytest.raises(ConfigError, match='max_episode_steps='):
            env.max_episode_timesteps = 10
        with pytest.raises(ConfigError, match='max_episode_steps='):
            PreprocessedVector(env, dict(mission=[])).max_episode_timesteps = 10
        assert env.max_episode_timesteps == 5


def test_seeded_reset_repeats_and_plain_reset_continues(env):
    first = env.reset(seed=7)['mission']
    again = env.reset(seed=7)['mission']
    assert first.tolist() == again.tolist()


def test_bad_actions_are_refused_naming_the_environment(env):
    env.reset()
    with pytest.raises(SpecError, match=r"'action'.*environment 2"):
        env.execute({'action': np.array([0, 1, 9, 0])})
    with pytest.raises(SpecError, match='leading batch axis of 4'):
        env.execute({'action': 0})
    with pytest.raises(SpecError, match="unknown 'move'"):
        env.execute({'action': np.zeros(4, np.int64), 'move': np.zeros(4)})
    with pytest.raises(SpecError, match='dtype float64'):
        env.execute({'action': np.zeros(4)})


def test_call_order_and_configuration_errors():
    with pytest.raises(ConfigError, match="unknown EnvPool id 'NoSuchTask-v0'"):
        EnvPoolBridge('NoSuchTask-v0')
    with pytest.raises(ConfigError, match="'batch_size' is set by the bridge"):
        EnvPoolBridge(TASK, num_envs=2, batch_size=2)
    with pytest.raises(ConfigError, match='num_envs: expected an int >= 1'):
        EnvPoolBridge(TASK, num_envs=True)
    with pytest.raises(ConfigError, match="text='image' needs a 1-D uint8 byte buffer"):
        EnvPoolBridge(TASK, text=('image',))
    env = EnvPoolBridge(TASK, num_envs=1)
    with pytest.raises(ResetNeeded, match='before reset'):
        env.execute({'action': np.zeros(1, np.int64)})
    env.close()
    env.close()
    with pytest.raises(ResetNeeded, match='closed'):
        env.reset()


def test_check_passes():
    from modalbridge.bridges import check
    report = check(EnvPoolBridge(TASK, num_envs=3, seed=0))
    assert not report.failures


def assert_steps_equal(a, b):
    assert a.states.keys() == b.states.keys()
    for name in a.states:
        assert a.states[name].dtype == b.states[name].dtype, name
        assert np.array_equal(a.states[name], b.states[name]), name
    assert a.reward.dtype == b.reward.dtype and np.array_equal(a.reward, b.reward)
    assert a.terminal.dtype == b.terminal.dtype and np.array_equal(a.terminal, b.terminal)
    assert a.info.keys() == b.info.keys()
    for key in a.info:
        if key == 'final_states':
            for name, value in a.info[key].items():
                mask = a.info['final_mask']
                assert np.array_equal(value[mask], b.info[key][name][mask]), name
        else:
            assert np.array_equal(a.info[key], b.info[key]), key


@pytest.mark.parametrize('task, kwargs', [(TASK, {}), ('BabyAI-GoToLocal-v0', dict(max_episode_steps=9))])
def test_the_direct_path_equals_envpools_public_step_and_reset(task, kwargs):
    with EnvPoolBridge(task, num_envs=4, seed=5, **kwargs) as fast, \
            EnvPoolBridge(task, num_envs=4, seed=5, **kwargs) as public:
        assert fast._direct is not None
        public._direct = None  # EnvPool's own Python layer
        states, expected = fast.reset(), public.reset()
        for name in states:
            assert np.array_equal(states[name], expected[name]), name
        rng = np.random.default_rng(1)
        ends = 0
        for _ in range(40):
            actions = {'action': rng.integers(0, 7, 4)}  # 6 ('done') ends GoToDoor episodes
            step = fast.execute(actions)
            assert_steps_equal(step, public.execute(actions))
            ends += int(step.info['final_mask'].sum())
        assert ends >= 4


def test_atari_pools_take_the_direct_path():
    with EnvPoolBridge('Pong-v5', num_envs=2, seed=0) as env:
        assert env._direct is not None and list(env.states) == ['state']
        env.reset()
        step = env.execute({'action': np.zeros(2, np.int64)})
        assert step.states['state'].shape == (2, 4, 84, 84) and set(step.info) >= {'lives', 'elapsed_step'}


def test_mission_text_is_decoded_only_where_its_bytes_change(env, monkeypatch):
    import modalbridge.bridges.envpool as module
    calls = []
    decode = module._decode
    monkeypatch.setattr(module, '_decode', lambda row, cache: calls.append(1) or decode(row, cache))
    first = env.reset()
    assert len(calls) == 4
    step = env.execute({'action': np.array([0, 1, 0, 1])})  # turning ends no episode
    assert len(calls) == 4 and step.states['mission'].tolist() == first['mission'].tolist()
    step.states['mission'][0] = 'changed by the caller'  # a fresh array each step
    step = env.execute({'action': np.array([6, 0, 0, 0])})  # 'done' ends environment 0's episode
    assert len(calls) == 5 and step.info['final_states']['mission'][0] == first['mission'][0]
    assert step.states['mission'][1:].tolist() == first['mission'][1:].tolist()


def test_continuous_actions_are_checked_finite_and_within_bounds():
    # check_batch refused every non-integer action before: no continuous-action pool could be stepped
    with EnvPoolBridge('Pendulum-v1', num_envs=2, seed=0) as env:
        assert env.actions['action'].dtype.kind == 'f' and env.actions['action'].shape == (1,)
        env.reset()
        step = env.execute({'action': np.array([[0.5], [-1.0]])})
        assert step.reward.shape == (2,) and np.isfinite(step.reward).all()
        with pytest.raises(SpecError, match=r"finite values.*environment 1"):
            env.execute({'action': np.array([[0.5], [np.nan]])})
        with pytest.raises(SpecError, match=r"'action'.*environment 0"):
            env.execute({'action': np.array([[3.0], [0.0]])})  # bounds are [-2, 2]
        with pytest.raises(SpecError, match='shape'):
            env.execute({'action': np.zeros((2, 2))})
    from modalbridge.bridges import check
    assert not check(EnvPoolBridge('Pendulum-v1', num_envs=2, seed=0)).failures
