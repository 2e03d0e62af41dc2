"""examples/configs/*.json: the examples' runs as `modalbridge train` reads them, kept equal to what the
examples declare in Python, and each loadable in safe mode into its agent."""

import json
from pathlib import Path

import pytest

from modalbridge import cli
from modalbridge.agents.create import create
from modalbridge.bridges import VectorEnvironment

CONFIGS = Path(__file__).resolve().parents[2] / 'examples' / 'configs'


def read(name: str) -> cli.RunConfig:
    return cli.RunConfig.from_dict(json.loads((CONFIGS / f'{name}.json').read_text()))


def test_the_cartpole_ppo_config_is_the_examples_zoo_settings(load_example):
    zoo = dict(load_example('cartpole_ppo').ZOO)
    config = read('cartpole_ppo')
    assert config.network == zoo.pop('network')
    assert config.agent == dict(agent='ppo', **zoo) and config.envs == 8


def test_the_image_caption_config_is_the_demos_default(load_example):
    demo = load_example('image_caption')
    config = read('image_caption')
    assert dict(config.to_dict(), out=None, minutes=None) == dict(demo.load_config(None, {}).to_dict(), out=None,
                                                                  minutes=None)
    assert config.minutes == 2


@pytest.mark.parametrize('name', sorted(path.stem for path in CONFIGS.glob('*.json')))
def test_each_config_builds_its_agent_in_safe_mode(name):
    config = read(name)
    envs = VectorEnvironment([cli.make_env(config.environment, safe_mode=True) for _ in range(config.envs)])
    try:
        agent = create(config.agent_declaration(), envs, seed=0, safe_mode=True)
    finally:
        envs.close()
    assert agent.num_envs == config.envs
