import json

import gymnasium
import pytest

from modalbridge.agents import A2C, Agent
from modalbridge.envs import CaptionRoom

TRAINING_STEPS = 400_000  # learning took off after 120-175k steps in 5-minute runs (seeds 0-2)


@pytest.fixture(scope='module')
def demo(load_example):
    return load_example('image_caption')


def test_a_tiny_run_prints_the_table_saves_the_agent_and_writes_the_strip(demo, tmp_path, capsys):
    result = demo.main(['--steps', '64', '--envs', '2', '--episodes', '3', '--out', str(tmp_path)])
    out = capsys.readouterr().out
    for row in ('A2C, true captions', 'A2C, swapped captions', 'random agent'):
        assert row in out
    assert (tmp_path / 'evaluation_strip.png').stat().st_size > 1000
    assert isinstance(Agent.load(tmp_path / 'agent'), A2C)
    assert 0.0 <= result['true']['success'] <= 1.0 and result['steps'] >= 64


@pytest.mark.parametrize('flags, message', [
    (['--steps', '0'], '--steps must be a positive integer; received 0'),
    (['--envs', '0'], '--envs must be a positive integer; received 0'),
    (['--minutes', '0'], '--minutes must be positive'),
])
def test_bad_flags_are_usage_errors(demo, flags, message, capsys):
    with pytest.raises(SystemExit) as caught:
        demo.main(flags)
    assert caught.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize('document, message', [
    (dict(agnet={}), "config['agnet']: unknown key; expected some of"),
    (dict(environment=dict(id='modalbridge/NoSuchRoom-v0')), "GymBridge: cannot make environment 'modalbridge/NoSuchRoom-v0'"),
    (dict(preprocessing=dict(image=['normalise'])), "preprocessing['image'][0] (normalise): unknown type 'normalise' (did you mean 'normalize'?)"),
    (dict(network=[dict(type='dense', size=8)]), 'network: a list of layers applies to a single state'),
    (dict(agent=dict(learning_rat=0.1)), "config['agent']: unknown argument(s) ['learning_rat']"),
    (dict(steps=-5), "config['steps']: expected a positive int; received -5"),
])
def test_bad_json_configs_are_refused_before_training(demo, tmp_path, document, message, capsys):
    path = tmp_path / 'run.json'
    path.write_text(json.dumps(document))
    with pytest.raises(SystemExit) as caught:
        demo.main(['--config', str(path), '--out', str(tmp_path / 'out')])
    err = capsys.readouterr()
    assert caught.value.code == 2 and message in err.err
    assert 'training A2C' not in err.out and not (tmp_path / 'out').exists()


def test_the_json_config_declares_the_same_run(demo, tmp_path):
    path = tmp_path / 'run.json'
    path.write_text(json.dumps({**demo.DEFAULT_CONFIG, 'steps': 32, 'envs': 2}))
    config = demo.load_config(str(path), {})
    assert config['preprocessing'] == demo.DEFAULT_CONFIG['preprocessing'] and config['steps'] == 32


class InterruptedRoom(CaptionRoom):
    """Raises KeyboardInterrupt (as Ctrl-C does) after 40 steps of all environments together."""

    steps = 0

    def step(self, action):
        InterruptedRoom.steps += 1
        if InterruptedRoom.steps > 40:
            raise KeyboardInterrupt
        return super().step(action)


gymnasium.register('tests/InterruptedRoom-v0', entry_point=InterruptedRoom)


def test_an_interrupted_run_still_saves_the_agent(demo, tmp_path):
    path = tmp_path / 'run.json'
    path.write_text(json.dumps({'environment': {'id': 'tests/InterruptedRoom-v0', 'kwargs': {}}, 'envs': 2}))
    result = demo.main(['--config', str(path), '--steps', '100000', '--out', str(tmp_path)])
    assert result['interrupted'] and 0 < result['steps'] <= 40
    assert isinstance(Agent.load(tmp_path / 'agent'), A2C)


def test_a_short_fixed_seed_training_learns_to_read_the_caption(demo, tmp_path, capsys):
    # The demo's own configuration on a step budget (not a time one, so slower machines see the same run).
    config = demo.load_config(None, dict(steps=TRAINING_STEPS, seed=0))
    agent = demo.train(config, None, str(tmp_path))['agent']
    true = demo.evaluate(config, agent, swap=False, seed=50_000, episodes=100)
    swapped = demo.evaluate(config, agent, swap=True, seed=50_000, episodes=100)
    # a caption-blind agent reaches at most 1/3; a random one about 1/4
    assert true['success'] >= 0.5, (true, swapped)
    assert swapped['success'] <= 0.2, (true, swapped)
