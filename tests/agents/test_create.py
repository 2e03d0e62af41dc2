"""`Agent.create`: TensorForce's form, from names, classes, dicts and JSON files; every error placed."""

import json
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modalbridge.agents import A2C, PPO, Agent, RandomAgent
from modalbridge.agents.create import create
from modalbridge.bridges import ConfigError, GymBridge, VectorEnvironment

SMALL = dict(n_steps=4, batch_size=4, seed=0)


@pytest.fixture(scope='module')
def env():
    environment = GymBridge('CartPole-v1')
    yield environment
    environment.close()


def test_create_in_tensorforce_form_builds_the_named_agent_with_its_options(env):
    agent = Agent.create(agent='ppo', environment=env, learning_rate=1e-3, **SMALL)
    assert isinstance(agent, PPO)
    assert agent.config.n_steps == 4 and agent.config.learning_rate.value(0) == pytest.approx(1e-3)
    assert agent.states == env.states and agent.actions == env.actions


def test_names_are_case_insensitive_and_classes_are_accepted(env):
    assert isinstance(create('A2C', env, seed=0), A2C)
    assert isinstance(create(A2C, env, seed=0), A2C)
    assert isinstance(create('random', env), RandomAgent)
    assert isinstance(create('RandomAgent', env), RandomAgent)


def test_a_vector_environment_sets_num_envs_unless_the_options_do():
    envs = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(3)])
    assert create('random', envs).num_envs == 3
    assert create('random', envs, num_envs=2).num_envs == 2
    envs.close()


def test_a_dict_holds_the_agent_and_its_options_and_keywords_override_them(env):
    agent = create(dict(agent='ppo', network=[dict(type='dense', size=8)], learning_rate=1e-2, **SMALL), env,
                   learning_rate=5e-3)
    assert isinstance(agent, PPO) and agent.config.learning_rate.value(0) == pytest.approx(5e-3)
    assert isinstance(create(dict(type='a2c', seed=0), env), A2C)


def test_a_json_file_holds_agent_network_and_preprocessing(env, tmp_path):
    path = tmp_path / 'agent.json'
    path.write_text(json.dumps(dict(agent='a2c', network=[dict(type='dense', size=8)], n_steps=3, seed=0,
                                    preprocessing=dict(state=[dict(type='clip', min_value=-5, max_value=5)]))))
    agent = Agent.create(agent=str(path), environment=env)
    assert isinstance(agent, A2C) and agent.config.n_steps == 3
    assert agent.config.preprocessing == dict(state=[dict(type='clip', min_value=-5, max_value=5)])
    assert isinstance(create(path, env), A2C)  # a pathlib.Path as well


def test_specs_may_be_given_instead_of_an_environment():
    agent = create('random', states=dict(x=dict(type='float', shape=(2,))),
                   actions=dict(a=dict(type='int', num_values=2)))
    assert list(agent.states) == ['x']


def test_the_dqn_options_are_checked_against_its_typed_config(env):
    agent = create('dqn', env, batch_size=8, memory_capacity=100, first_update=16, seed=0)
    assert agent.config.batch_size == 8
    with pytest.raises(ConfigError, match=r"^config\['batch_size'\]: "):
        create('dqn', env, batch_size=0)
    with pytest.raises(ConfigError, match=r"^config\['epsilon'\]: unknown option"):
        create('dqn', env, epsilon=0.1)


# -- errors, each naming the place ---------------------------------------------

@pytest.mark.parametrize('options, message', [
    (dict(learning_rate='1e-3'), r"^config\['learning_rate'\]: "),
    (dict(discount=1.5), r"^config\['discount'\]: expected a finite number in \[0, 1\]; received 1.5"),
    (dict(n_steps=True), r"^config\['n_steps'\]: "),
    (dict(optimizer='adamw'), r"^config\['optimizer'\]: "),
    (dict(learning_rat=1e-3), r"^config\['learning_rat'\]: unknown option \(did you mean 'learning_rate'\?\) "
                              r"of PPO"),
    (dict(seed=-1), r"^config\['seed'\]: "),
    (dict(num_envs=0), r"^config\['num_envs'\]: "),
])
def test_a_bad_option_is_refused_naming_it_before_anything_is_built(env, options, message):
    with pytest.raises(ConfigError, match=message):
        create('ppo', env, **options)


def test_an_unknown_agent_is_refused_with_the_known_ones(env):
    with pytest.raises(ConfigError, match=r"^config\['agent'\]: unknown agent 'ppo2' \(did you mean 'ppo'\?\); "
                                          r"known: \[.*'a2c'.*'ppo'.*\]"):
        create('ppo2', env)
    with pytest.raises(ConfigError, match=r"^config\['agent'\]: expected an agent name"):
        create(3, env)
    with pytest.raises(ConfigError, match=r"^config\['agent'\]: expected an agent name"):
        create(dict, env)


@pytest.mark.parametrize('document, message', [
    (dict(learning_rate=1e-3), r"expected exactly one of \['agent', 'type'\]"),
    (dict(agent='ppo', type='a2c'), r"expected exactly one of \['agent', 'type'\]"),
])
def test_a_dict_must_name_the_agent_once(env, document, message):
    with pytest.raises(ConfigError, match=message):
        create(document, env)


def test_a_file_error_names_the_file(env, tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"agent": "ppo", ')
    with pytest.raises(ConfigError, match=r"bad\.json' is not valid JSON"):
        create(str(bad), env)
    listing = tmp_path / 'list.json'
    listing.write_text('["ppo"]')
    with pytest.raises(ConfigError, match=r"list\.json' must hold a JSON object .* it holds a list"):
        create(str(listing), env)
    typed = tmp_path / 'typed.json'
    typed.write_text('{"agent": "ppo", "learning_rate": "fast"}')
    with pytest.raises(ConfigError, match=r"typed\.json': config\['learning_rate'\]: "):
        create(str(typed), env)
    with pytest.raises(ConfigError, match=r"cannot read .*missing\.json"):
        create(str(tmp_path / 'missing.json'), env)


def test_a_config_file_resolves_in_safe_mode_and_imports_nothing(env, tmp_path):
    module = 'tests.preprocess.plugins'
    sys.modules.pop(module, None)
    path = tmp_path / 'unsafe.json'
    path.write_text(json.dumps(dict(agent='a2c', preprocessing=dict(state=[dict(type=f'{module}.Negate')]))))
    with pytest.raises(ConfigError, match='registered'):
        create(str(path), env)
    assert module not in sys.modules
    # the same declaration written in the user's own code resolves
    agent = create(dict(agent='a2c', preprocessing=dict(state=[dict(type=f'{module}.Negate')]), seed=0), env)
    assert isinstance(agent, A2C)


def test_a_config_file_is_resolved_in_safe_mode(env, tmp_path):
    path = tmp_path / 'dqn.json'
    path.write_text(json.dumps(dict(agent='dqn', network=[dict(type='os.system')])))
    with pytest.raises(ConfigError, match=r"dqn.json.*network\[0\] \(os.system\): 'os.system' is not a registered"):
        create(str(path), env)


@pytest.mark.parametrize('kwargs, message', [
    (dict(environment=object()), 'environment must have states and actions'),
    (dict(), 'give an environment, or both states and actions'),
])
def test_the_specs_must_come_from_somewhere(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        create('random', **kwargs)


def test_an_environment_and_specs_together_are_refused(env):
    with pytest.raises(ConfigError, match='not both'):
        create('random', env, states=env.states, actions=env.actions)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(['num_envs', 'parallel', 'seed', 'learning_rate', 'agent']),
       st.none() | st.booleans() | st.integers(-3, 5) | st.floats(allow_nan=True) | st.text(max_size=4)
       | st.lists(st.integers(), max_size=2))
def test_any_value_of_an_option_builds_an_agent_or_is_a_placed_config_error(key, value):
    specs = dict(states=dict(x=dict(type='float', shape=(2,))), actions=dict(a=dict(type='int', num_values=2)))
    try:
        create(dict(agent='random', **{key: value}) if key != 'agent' else dict(agent=value), **specs)
    except ConfigError as error:
        assert str(error).startswith('config'), error


def test_a_subclass_defined_elsewhere_does_not_hide_the_agent_it_extends(env):
    class Recorder(RandomAgent):
        pass

    assert type(create('random', env)) is RandomAgent
    assert type(create('recorder', env)) is Recorder
