import dm_env
import numpy as np
import pytest
from dm_env import specs as dm_specs
from dm_env import test_utils

from modalbridge.bridges import (ConfigError, DMEnvBridge, GymBridge, Terminal, check, to_dm_env)
from modalbridge.bridges import dm as dm_lib
from modalbridge.bridges import names, nest


class Corridor(dm_env.Environment):
    """A real dm_env environment with nested specs, text, float64 and an int32 choice.

    Walk right to the end (TERMINATED, discount 0) or run out of time (LAST, discount 1).
    """

    def __init__(self, seed=None, length=4, limit=6):
        self.rng = np.random.default_rng(seed)
        self.length, self.limit = length, limit

    def observation_spec(self):
        return {'camera': {'pixels': dm_specs.BoundedArray((4, 4, 3), np.uint8, 0, 255, name='pixels')},
                'position': dm_specs.Array((2,), np.float64, name='position'),
                'instruction': dm_specs.StringArray((), name='instruction'),
                'sensors': [dm_specs.DiscreteArray(3, dtype=np.int32, name='s0'),
                            dm_specs.Array((), bool, name='s1')]}

    def action_spec(self):
        return {'move': dm_specs.DiscreteArray(2, dtype=np.int32, name='move'),
                'arm': (dm_specs.BoundedArray((2,), np.float32, -1.0, 1.0, name='a'),)}

    def _observe(self):
        return {'camera': {'pixels': self.rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)},
                'position': np.array([self.x, 0.5]), 'instruction': np.array('walk right', dtype=object),
                'sensors': [np.int32(self.x % 3), np.array(self.x > 1)]}

    def reset(self):
        self.x, self.t = 0, 0
        return dm_env.restart(self._observe())

    def step(self, action):
        self.last_action = action
        self.t += 1
        self.x = max(0, self.x + (1 if int(action['move']) == 1 else -1))
        if self.x >= self.length:
            return dm_env.termination(1.0, self._observe())
        if self.t >= self.limit:
            return dm_env.truncation(0.0, self._observe())
        return dm_env.transition(0.0, self._observe())


def test_nested_specs_become_flat_names_with_types_and_dtypes_kept():
    env = DMEnvBridge(Corridor())
    assert sorted(env.states) == ['camera/pixels', 'instruction', 'position', 'sensors/0', 'sensors/1']
    assert env.states['position'].dtype == np.float64
    assert isinstance(env.states['sensors/0'], dm_specs.DiscreteArray) and env.states['sensors/0'].dtype == np.int32
    assert isinstance(env.states['instruction'], dm_specs.StringArray)
    assert sorted(env.actions) == ['arm/0', 'move']


def test_actions_are_nested_back_and_terminals_follow_the_discount():
    env = DMEnvBridge(Corridor())
    states = env.reset()
    assert states['instruction'].item() == 'walk right'
    terminals = [env.execute({'move': 1, 'arm/0': np.zeros(2, np.float32)}).terminal for _ in range(4)]
    assert terminals == [Terminal.NONE] * 3 + [Terminal.TERMINATED]
    inner = env.env
    assert isinstance(inner.last_action['arm'], tuple) and inner.last_action['move'] == 1
    env.reset()
    steps = [env.execute({'move': 0, 'arm/0': np.zeros(2, np.float32)}) for _ in range(6)]
    assert steps[-1].terminal is Terminal.TRUNCATED and steps[-1].info == {'discount': 1.0}


def test_check_passes_with_a_seeded_factory():
    assert check(lambda: DMEnvBridge(lambda seed: Corridor(seed))).ok


def test_an_instance_refuses_a_seed():
    with pytest.raises(ConfigError) as caught:
        DMEnvBridge(Corridor()).reset(seed=3)
    assert str(caught.value) == dm_lib.SEEDED_INSTANCE


def test_dynamic_shapes_and_non_specs_are_refused_naming_the_path():
    class Dynamic(Corridor):
        def observation_spec(self):
            return {'points': {'xy': dm_specs.Array((-1, 2), np.float32)}}
    with pytest.raises(ConfigError, match=r"observation spec 'points/xy': shape \(-1, 2\) is not fixed"):
        DMEnvBridge(Dynamic())

    class Odd(Corridor):
        def action_spec(self):
            return {'move': 3}
    with pytest.raises(ConfigError, match="action spec 'move': int is not a dm_env spec"):
        DMEnvBridge(Odd())


import unittest  # noqa: E402


class CartPoleThroughDmEnv(test_utils.EnvironmentTestMixin, unittest.TestCase):
    def make_object_under_test(self):
        return to_dm_env(GymBridge('CartPole-v1'))


class CorridorRoundTrip(test_utils.EnvironmentTestMixin, unittest.TestCase):
    def make_object_under_test(self):
        return to_dm_env(DMEnvBridge(Corridor(0)))

    def make_action_sequence(self):
        for _ in range(12):
            yield {'move': np.int32(1), 'arm/0': np.zeros(2, np.float32)}


def test_to_dm_env_truncation_keeps_discount_one():
    env = to_dm_env(DMEnvBridge(Corridor(0)))
    env.reset()
    for _ in range(6):
        timestep = env.step({'move': np.int32(0), 'arm/0': np.zeros(2, np.float32)})
    assert timestep.last() and timestep.discount == 1.0
    assert env.step({'move': np.int32(0), 'arm/0': np.zeros(2, np.float32)}).first()


def test_to_dm_env_refuses_non_environments():
    with pytest.raises(ConfigError, match='to_dm_env: expected a modalbridge Environment; received str'):
        to_dm_env('CartPole-v1')


@pytest.mark.parametrize('domain, task', [('cartpole', 'swingup'), ('walker', 'walk'), ('finger', 'spin')])
def test_dm_control_tasks_run_and_end_truncated_after_1000_steps(domain, task):
    suite = pytest.importorskip('dm_control.suite')
    factory = lambda seed: suite.load(domain, task, task_kwargs=dict(random=seed))  # noqa: E731
    env = DMEnvBridge(factory)
    assert all(spec.dtype == np.float64 for spec in env.states.values())
    env.reset(seed=0)
    action = {name: np.zeros(spec.shape, spec.dtype) for name, spec in env.actions.items()}
    steps = [env.execute(action) for _ in range(1000)]
    assert steps[-1].terminal is Terminal.TRUNCATED and steps[-1].info == {'discount': 1.0}
    assert {step.terminal for step in steps[:-1]} == {Terminal.NONE}
    assert check(lambda: DMEnvBridge(factory), max_steps=1000).ok


class Colliding(Corridor):
    def observation_spec(self):
        return {0: dm_specs.Array((), np.float64, name='a'), '0': dm_specs.Array((), np.float64, name='b')}


def test_dm_spec_keys_flattening_to_the_same_name_are_a_config_error():
    with pytest.raises(ConfigError, match=r"observation spec: the paths \(0,\) and \('0',\) both flatten to the name '0'"):
        DMEnvBridge(Colliding())


def test_dm_nested_action_is_assembled_in_its_own_container_types():
    spec = {'arm': [dm_specs.Array((), np.float64, name='x'), dm_specs.Array((), np.float64, name='y')]}
    build = nest.assembler(spec, dm_lib.children, dm_lib._rebuild,
                           lambda path: lambda flat, name=names.join(path): flat[name])
    assert build({'arm/0': 1.0, 'arm/1': 2.0}) == {'arm': [1.0, 2.0]}


class _Rewarding(dm_env.Environment):
    """A MID step with the reward given (dm_env allows no reward only on FIRST)."""

    def __init__(self, reward):
        self.reward = reward

    def observation_spec(self):
        return dm_specs.Array((1,), np.float32, name='x')

    def action_spec(self):
        return dm_specs.DiscreteArray(2)

    def reset(self):
        return dm_env.restart(np.zeros(1, np.float32))

    def step(self, action):
        return dm_env.transition(self.reward, np.zeros(1, np.float32))


@pytest.mark.parametrize('reward', [None, 'a', np.array([1.0, 2.0]), np.nan])
def test_a_missing_or_bad_reward_after_the_first_step_names_the_reward(reward):
    from modalbridge.bridges import EnvironmentFailure
    env = DMEnvBridge(_Rewarding(reward))
    env.reset()
    with pytest.raises(EnvironmentFailure, match='reward'):
        env.execute({'action': 1})


def test_a_numpy_reward_is_read_as_a_float():
    env = DMEnvBridge(_Rewarding(np.float32(0.5)))
    env.reset()
    assert env.execute({'action': 1}).reward == 0.5
