import gymnasium
import numpy as np
import pytest
from dm_env import specs as dm_specs
from gymnasium import spaces
from hypothesis import HealthCheck, given, settings, strategies as st

from modalbridge.bridges import (ConfigError, EnvironmentFailure, GymBridge, SpecError, Terminal,
                                 VectorEnvironment, check, names, specs)
from modalbridge.bridges import gym_spaces



class SpaceEnv(gymnasium.Env):
    """A real Gymnasium env over any spaces: observations sampled, actions recorded."""

    def __init__(self, observation_space, action_space, end_after=None):
        self.observation_space, self.action_space = observation_space, action_space
        self.received = []
        self.end_after = end_after

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.observation_space.seed(seed)
        self.last = self.observation_space.sample()
        return self.last, {'seeded': seed}

    def step(self, action):
        assert self.action_space.contains(action), action
        self.received.append(action)
        self.last = self.observation_space.sample()
        done = self.end_after is not None and len(self.received) >= self.end_after
        return self.last, 1.0, done, False, {}


LEAF_SPACES = {
    'box': spaces.Box(-1.0, 1.0, (3,), np.float32),
    'box_unbounded': spaces.Box(-np.inf, np.inf, (2,), np.float64),
    'box_mixed': spaces.Box(np.array([-1.0, -np.inf]), np.array([1.0, np.inf]), dtype=np.float32),
    'image': spaces.Box(0, 255, (8, 8, 3), np.uint8),
    'int_box': spaces.Box(-5, 5, (2,), np.int32),
    'discrete': spaces.Discrete(4),
    'discrete_start': spaces.Discrete(3, start=-1),
    'multi_discrete': spaces.MultiDiscrete([2, 5]),
    'multi_discrete_start': spaces.MultiDiscrete([3, 3], start=[1, -1]),
    'multi_binary': spaces.MultiBinary(4),
    'multi_binary_2d': spaces.MultiBinary([2, 3]),
    'text': spaces.Text(12, min_length=1),
}


def observation_back(leaf, value):
    """The Gymnasium value a contract state stands for (inverse of the bridge)."""
    space = leaf
    if isinstance(space, spaces.Discrete):
        return value + space.start
    if isinstance(space, spaces.MultiDiscrete):
        return value + space.start
    if isinstance(space, spaces.MultiBinary):
        return value.astype(space.dtype)
    if isinstance(space, spaces.Text):
        return value.item()
    return value


@pytest.mark.parametrize('kind', sorted(LEAF_SPACES))
def test_every_leaf_space_round_trips(kind):
    space = LEAF_SPACES[kind]
    env = GymBridge(SpaceEnv(space, space))
    state_spec, action_spec = env.states['state'], env.actions['action']
    states = env.reset(seed=3)
    specs.validate(state_spec, states['state'])
    back = observation_back(space, states['state'])
    assert space.contains(back)
    assert np.array_equal(np.asarray(back, dtype=object), np.asarray(env.env.unwrapped.last, dtype=object))
    rng = np.random.default_rng(0)
    for _ in range(5):
        action = specs.sample(action_spec, rng)
        env.execute({'action': action})
        assert space.contains(env.env.unwrapped.received[-1])


def test_specs_of_the_leaf_spaces():
    bridge = lambda kind: GymBridge(SpaceEnv(LEAF_SPACES[kind], spaces.Discrete(2))).states['state']
    image = bridge('image')
    assert isinstance(image, dm_specs.BoundedArray) and image.dtype == np.uint8
    assert image.minimum == 0 and image.maximum == 255
    assert type(bridge('box_unbounded')) is dm_specs.Array
    assert bridge('box_unbounded').dtype == np.float64
    assert np.isinf(bridge('box_mixed').maximum[1])
    discrete = bridge('discrete_start')
    assert isinstance(discrete, dm_specs.DiscreteArray) and discrete.num_values == 3
    assert discrete.dtype == np.int64
    assert bridge('multi_discrete').maximum.tolist() == [1, 4]
    assert bridge('multi_binary').dtype == bool
    assert isinstance(bridge('text'), dm_specs.StringArray)


def test_discrete_start_is_added_back_for_actions():
    env = GymBridge(SpaceEnv(spaces.Discrete(2), spaces.Discrete(3, start=10)))
    env.reset()
    env.execute({'action': 0})
    env.execute({'action': 2})
    assert env.env.unwrapped.received == [10, 12]
    with pytest.raises(SpecError, match="'action'"):
        env.execute({'action': 10})


def test_nested_spaces_get_slash_names():
    space = spaces.Dict({
        'image': spaces.Box(0, 255, (4, 4, 3), np.uint8),
        'inventory': spaces.Dict({'wood': spaces.Discrete(5), 'tools/axe': spaces.MultiBinary(2)}),
        'pos': spaces.Tuple((spaces.Discrete(3), spaces.Box(-1, 1, (), np.float32))),
    })
    env = GymBridge(SpaceEnv(space, space))
    assert sorted(env.states) == ['image', 'inventory/tools%2Faxe', 'inventory/wood', 'pos/0', 'pos/1']
    assert names.split('inventory/tools%2Faxe') == ('inventory', 'tools/axe')
    env.reset(seed=0)
    env.execute({name: specs.sample(spec, np.random.default_rng(1)) for name, spec in env.actions.items()})
    action = env.env.unwrapped.received[-1]
    assert space.contains(action) and isinstance(action['pos'], tuple)


def test_text_action_outside_the_charset_is_rejected():
    env = GymBridge(SpaceEnv(spaces.Discrete(2), spaces.Text(5, charset='abc')))
    env.reset()
    env.execute({'action': 'abca'})
    with pytest.raises(SpecError, match=r"'action': expected text of 1 to 5 characters.*characters outside the charset: \['z'\]"):
        env.execute({'action': 'az'})
    with pytest.raises(SpecError, match=r'length 6'):
        env.execute({'action': 'aaaaaa'})


class WordSpace(spaces.Space):
    """A space of str that is not Text (as minigrid's MissionSpace is): one of a few words."""

    def __init__(self, words):
        super().__init__(dtype=str)
        self.words = tuple(words)

    def sample(self, mask=None, probability=None):
        return self.words[self.np_random.integers(len(self.words))]

    def contains(self, x):
        return x in self.words


@pytest.mark.parametrize('space, first, second', [
    (spaces.Dict({0: spaces.Discrete(2), '0': spaces.Discrete(3)}), '(0,)', "('0',)"),
    (spaces.Dict({'1': spaces.Discrete(2), 1: spaces.Discrete(3)}), None, None),
])
def test_keys_flattening_to_the_same_name_are_a_config_error(space, first, second):
    # Before, one of the two leaves silently disappeared.
    for make in (lambda: GymBridge(SpaceEnv(space, spaces.Discrete(2))),
                 lambda: GymBridge(SpaceEnv(spaces.Discrete(2), space))):
        with pytest.raises(ConfigError, match='both flatten to the name') as caught:
            make()
        if first:
            assert first in str(caught.value) and second in str(caught.value)


def test_tuple_indices_and_escaped_slashes_do_not_collide():
    space = spaces.Dict({'a': spaces.Tuple([spaces.Discrete(2)]), 'a/0': spaces.Discrete(3)})
    # 'a/0' is escaped to 'a%2F0', so it is distinct from the tuple path ('a', 0)
    assert 'a%2F0' in gym_spaces.space_leaves(space, 'state', 'observation')[1].name


def test_terminated_and_truncated_map_to_terminal():
    env = GymBridge('CartPole-v1')
    env.reset(seed=0)
    terminal = Terminal.NONE
    while terminal == Terminal.NONE:
        terminal = env.execute({'action': 0}).terminal
    assert terminal is Terminal.TERMINATED
    env = GymBridge('Pendulum-v1')
    assert env.max_episode_timesteps == 200
    env.reset(seed=0)
    terminals = [env.execute({'action': [0.0]}).terminal for _ in range(200)]
    assert terminals[-1] is Terminal.TRUNCATED and set(terminals[:-1]) == {Terminal.NONE}


def test_seeds_pass_through():
    first, second = GymBridge('CartPole-v1'), GymBridge('CartPole-v1')
    assert np.array_equal(first.reset(seed=7)['state'], second.reset(seed=7)['state'])
    assert first.reset_info == {}
    assert not np.array_equal(first.reset(seed=7)['state'], first.reset(seed=8)['state'])


@pytest.mark.parametrize('space, name', [
    (spaces.Graph(spaces.Box(0, 1, (2,)), None), 'state'),
    (spaces.Dict({'a': spaces.Discrete(2), 'b': spaces.Sequence(spaces.Discrete(2))}), 'b'),
])
def test_unsupported_space_is_a_config_error_naming_it(space, name):
    with pytest.raises(ConfigError, match=f"observation space '{name}': .* is not supported"):
        GymBridge(SpaceEnv(space, spaces.Discrete(2)))


def test_unknown_id_is_a_config_error():
    with pytest.raises(ConfigError, match="GymBridge: cannot make environment 'NoSuchEnv-v0'"):
        GymBridge('NoSuchEnv-v0')


def test_not_an_env_is_a_config_error():
    with pytest.raises(ConfigError, match='expected a gymnasium.Env or an environment id; received int'):
        GymBridge(3)


# Registered Gymnasium 1.4 ids: Taxi-v3 and CliffWalking-v0 were renamed to v4 / v1.
CLASSIC = ['CartPole-v1', 'Pendulum-v1', 'MountainCarContinuous-v0', 'Acrobot-v1',
           'FrozenLake-v1', 'Taxi-v4', 'Blackjack-v1', 'CliffWalking-v1']


@pytest.mark.parametrize('env_id', CLASSIC)
def test_check_passes_on_gymnasium_classics(env_id):
    report = check(GymBridge(env_id))
    assert report.ok and 'determinism' in report.passed


def test_blackjack_tuple_observation_is_named_by_index():
    env = GymBridge('Blackjack-v1')
    assert sorted(env.states) == ['0', '1', '2']
    assert env.states['0'].num_values == 32


# -- property test: random nested spaces ---------------------------------------

leaf_spaces = st.one_of(
    st.builds(lambda n, lo: spaces.Box(lo, lo + 2.0, (n,), np.float32), st.integers(1, 3), st.floats(-5, 5)),
    st.just(spaces.Box(0, 255, (3, 3, 1), np.uint8)),
    st.builds(lambda n, start: spaces.Discrete(n, start=start), st.integers(1, 6), st.integers(-3, 3)),
    st.builds(lambda nvec: spaces.MultiDiscrete(nvec), st.lists(st.integers(1, 4), min_size=1, max_size=3)),
    st.builds(spaces.MultiBinary, st.integers(1, 4)),
    st.just(spaces.Text(8, min_length=1)),
)
keys = st.text(alphabet='ab/%', min_size=1, max_size=3)
nested_spaces = st.recursive(
    leaf_spaces,
    lambda children: st.one_of(
        st.dictionaries(keys, children, min_size=1, max_size=3).map(spaces.Dict),
        st.lists(children, min_size=1, max_size=3).map(lambda items: spaces.Tuple(items))),
    max_leaves=6)


def corruptions(spec):
    """(description, bad value) for one leaf spec."""
    yield 'shape', np.zeros(spec.shape + (2,), object if specs.is_text(spec) else spec.dtype)
    if specs.is_text(spec):
        yield 'dtype', 7
        return
    yield 'dtype', 'text'
    if isinstance(spec, dm_specs.BoundedArray):
        wide = np.float64 if specs.is_float(spec) else np.int64
        yield 'bound', np.broadcast_to(spec.maximum, spec.shape).astype(wide) + 1
    if specs.is_float(spec):
        yield 'nan', np.full(spec.shape, np.nan)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested_spaces, st.integers(0, 2 ** 16))
def test_random_nested_spaces_accept_valid_and_reject_each_corrupted_leaf(space, seed):
    env = GymBridge(SpaceEnv(space, space))
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    valid = {name: specs.sample(spec, rng) for name, spec in env.actions.items()}
    env.execute(valid)
    assert space.contains(env.env.unwrapped.received[-1])
    for name, spec in env.actions.items():
        for what, bad in corruptions(spec):
            with pytest.raises(SpecError) as caught:
                env.execute({**valid, name: bad})
            assert caught.value.key == name, (what, str(caught.value))
        missing = {key: value for key, value in valid.items() if key != name}
        with pytest.raises(SpecError) as caught:
            env.execute(missing)
        assert caught.value.key == name
    with pytest.raises(SpecError) as caught:
        env.execute({**valid, 'extra/leaf': 0})
    assert caught.value.key == 'extra/leaf'
    assert len(env.env.unwrapped.received) == 1  # nothing invalid reached the env


def test_a_subclass_overriding_execute_is_stepped_through_its_override():
    """GymBridge steps Gymnasium without a Step in between, except where a subclass overrides `_execute`."""
    class Doubled(GymBridge):
        def _execute(self, actions):
            step = super()._execute(actions)
            return step._replace(reward=2 * step.reward)

    env = Doubled('CartPole-v1')
    env.reset(seed=0)
    assert env.execute({'action': 0}).reward == 2.0
    batch = VectorEnvironment([Doubled('CartPole-v1') for _ in range(2)])
    batch.reset(seed=0)
    assert batch.execute({'action': np.zeros(2, np.int64)}).reward.tolist() == [2.0, 2.0]


def test_a_failing_gymnasium_step_is_an_environment_failure_naming_the_bridge():
    class Broken(gymnasium.Env):
        observation_space = gymnasium.spaces.Discrete(2)
        action_space = gymnasium.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return 0, {}

        def step(self, action):
            raise RuntimeError('cable cut')

    env = GymBridge(Broken())
    env.reset()
    with pytest.raises(EnvironmentFailure, match=r"GymBridge._execute failed: RuntimeError\('cable cut'\)"):
        env.execute({'action': 0})
