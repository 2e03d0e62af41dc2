import dataclasses
import json

import pytest
from hypothesis import given, settings, strategies as st

from modalbridge.agents.a2c import A2CConfig
from modalbridge.agents.config import AgentConfig, OnPolicyConfig
from modalbridge.agents.ppo import PPOConfig
from modalbridge.bridges import ConfigError


@pytest.mark.parametrize('cls', [AgentConfig, OnPolicyConfig, A2CConfig, PPOConfig])
def test_configs_round_trip_through_json(cls):
    config = cls(num_envs=3, seed=5)
    assert cls.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_schedules_round_trip_in_their_declaration_form():
    config = PPOConfig(learning_rate=dict(type='linear', initial=1e-3, final=0.0, timesteps=100), clip_range=0.1)
    document = config.to_dict()
    assert document['learning_rate'] == dict(type='linear', initial=1e-3, final=0.0, timesteps=100)
    again = PPOConfig.from_dict(document)
    assert again.learning_rate.value(50) == pytest.approx(5e-4) and again.clip_range.value(0) == 0.1


def test_unknown_keys_are_named():
    with pytest.raises(ConfigError, match=r"PPOConfig: unknown field\(s\) \['clip', 'epoch'\]"):
        PPOConfig.from_dict(dict(clip=0.2, epoch=3, n_steps=8))


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PPOConfig().n_steps = 3


def test_every_field_has_a_docstring_line():
    import inspect
    for cls in (AgentConfig, OnPolicyConfig, A2CConfig, PPOConfig):
        source = ''.join(inspect.getsource(c) for c in cls.__mro__ if c is not object and c.__module__.startswith('modalbridge'))
        for field in dataclasses.fields(cls):
            assert f'    {field.name}:' in source
            after = source.split(f'    {field.name}:', 1)[1].splitlines()[1].strip()
            assert after.startswith('"""'), field.name


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(['n_steps', 'discount', 'gae_lambda', 'value_coef', 'batch_size', 'epochs',
                                        'clip_range', 'target_kl', 'max_grad_norm', 'num_envs']),
                       st.one_of(st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                                 st.text(max_size=2), st.none()), max_size=3))
def test_any_configuration_is_valid_or_a_config_error_naming_a_given_field(fields):
    try:
        config = PPOConfig(**fields)
    except ConfigError as error:
        # the field the error is about, or one of a relation between fields (batch_size <= n_steps * num_envs)
        assert any(name in str(error).split('; received')[0] for name in fields), error
    else:
        assert PPOConfig.from_dict(config.to_dict()) == config
