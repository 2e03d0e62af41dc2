import functools
import json
import sys

import gymnasium
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from modalbridge import cli
from modalbridge.agents import A2C, PPO, Agent
from modalbridge.bridges import ConfigError, GymBridge
from modalbridge.envs import CaptionRoom

TRAINING_STEPS = 100_000  # PPO: the mean return of 10 episodes passed 1.0 at 55k steps in 120 CPU-s runs (README)


@pytest.fixture(scope='module')
def demo(load_example):
    return load_example('image_caption')


def test_a_tiny_run_prints_the_table_saves_the_agent_and_writes_the_strip(demo, tmp_path, capsys):
    result = demo.main(['--steps', '64', '--envs', '2', '--episodes', '3', '--out', str(tmp_path)])
    out = capsys.readouterr().out
    for row in ('PPO, true captions', 'PPO, swapped captions', 'random agent'):
        assert row in out
    assert (tmp_path / 'evaluation_strip.png').stat().st_size > 1000
    assert isinstance(Agent.load(tmp_path / 'agent'), PPO)
    assert 0.0 <= result['true']['success'] <= 1.0 and result['steps'] >= 64


def test_the_saved_agent_and_run_act_identically_on_raw_states(demo, tmp_path):
    result = demo.main(['--steps', '64', '--envs', '2', '--episodes', '1', '--out', str(tmp_path)])
    # the checkpoint holds the agent; run.json beside it the preprocessing, by value, read in safe mode
    config = demo.load_config(tmp_path / 'run.json', {})
    assert config.preprocessing == demo.DEFAULT_CONFIG['preprocessing']
    loaded = Agent.load(tmp_path / 'agent')  # the agent holds its preprocessing: it acts on raw states
    env = demo.make_env(config)
    raw = [env.reset(seed=seed) for seed in range(8)]
    batch = {name: np.stack([states[name] for states in raw]) for name in raw[0]}
    assert batch['caption'].dtype == object  # raw text
    np.testing.assert_array_equal(result['agent'].act(batch, deterministic=True, independent=True)['move'],
                                  loaded.act(batch, deterministic=True, independent=True)['move'])
    assert (tmp_path / 'learning_curve.png').stat().st_size > 1000


@pytest.mark.parametrize('flags, message', [
    (['--steps', '0'], '--steps must be a positive integer; received 0'),
    (['--envs', '0'], '--envs must be a positive integer; received 0'),
    (['--minutes', '0'], '--minutes must be positive'),
])
def test_bad_flags_are_usage_errors(demo, flags, message, capsys):
    with pytest.raises(SystemExit) as caught:
        demo.main(flags)
    assert caught.value.code == 2 and message in capsys.readouterr().err


def test_the_default_is_ppo_for_two_minutes_and_a_config_may_still_name_a2c(demo, tmp_path, capsys):
    config = demo.load_config(None, {})
    assert config.agent['agent'] == 'ppo' and config.envs == 16
    assert demo.MINUTES == 2
    with pytest.raises(SystemExit):
        demo.main(['--help'])
    assert 'training time limit (default 2)' in capsys.readouterr().out
    path = tmp_path / 'run.json'
    path.write_text(json.dumps(dict(agent=dict(agent='a2c', n_steps=5), envs=2)))
    result = demo.main(['--config', str(path), '--steps', '64', '--episodes', '1', '--out', str(tmp_path / 'out')])
    assert isinstance(result['agent'], A2C) and 'A2C, true captions' in capsys.readouterr().out


def test_fewer_environments_than_one_minibatch_needs_is_a_clear_error(demo, tmp_path, capsys):
    # the default PPO's minibatch (256) is at most one rollout: n_steps (128) x envs
    with pytest.raises(SystemExit) as caught:
        demo.main(['--envs', '1', '--out', str(tmp_path)])
    assert caught.value.code == 2
    assert "config['agent']['batch_size']: expected at most n_steps * num_envs = 128" in capsys.readouterr().err


@pytest.mark.parametrize('document, message', [
    (dict(agnet={}), "config['agnet']: unknown key (did you mean 'agent'?); expected some of"),
    (dict(environment=dict(id='modalbridge/NoSuchRoom-v0')), "GymBridge: cannot make environment 'modalbridge/NoSuchRoom-v0'"),
    (dict(environment=['modalbridge/CaptionRoom-v0']), "config['environment']: expected a dict with 'id' (and optionally "
                                                       "'kwargs'); received ['modalbridge/CaptionRoom-v0']"),
    (dict(environment=dict(kwargs=dict(shaping=0.1))), "config['environment']['id']: expected a Gymnasium id such as 'CartPole-v1'; received None"),
    (dict(environment=dict(id=3)), "config['environment']['id']: expected a Gymnasium id such as 'CartPole-v1'; received 3"),
    (dict(environment=dict(id='modalbridge/CaptionRoom-v0', kwargs=['shaping', 0.1])),
     "config['environment']['kwargs']: expected a dict of keyword arguments; received ['shaping', 0.1]"),
    (dict(environment=dict(id='modalbridge/CaptionRoom-v0', kwrags={})),
     "config['environment']['kwrags']: unknown key; expected ['id', 'kwargs']"),
    (dict(preprocessing=dict(image=['normalise'])), "preprocessing['image'][0] (normalise): unknown type 'normalise' (did you mean 'normalize'?)"),
    (dict(preprocessing=dict(image=['normalize'], caption=[dict(type='tokenize', length=6, vocabulary=['go', 'to'])])),
     "config['preprocessing']['caption']: the tokenizer's vocabulary misses 60.0% of the words of the first "
     "captions of 20 episodes, such as in ['go to the"),
    (dict(preprocessing='normalize'), "config['preprocessing']: expected a dict of per-state lists (or one list); received 'normalize' (a config "
                                     "holds the declaration itself, never a path)"),
    (dict(network=[dict(type='dense', size=8)]), "config['network']: a list of layers applies to a single state, but there are 2"),
    (dict(network='network.json'), "config['network']: expected 'auto' or a declaration; received the string 'network.json' (to use a JSON "
                                   "file, pass networks.declaration(path)"),
    (dict(network=dict(type='auto', depth=-1)), 'network (auto): depth: expected an int >= 0; received -1'),
    (dict(agent=dict(learning_rat=0.1)), "config['agent']['learning_rat']: unknown option (did you mean 'learning_rate'?) of PPO"),
    (dict(agent=dict(learning_rate='1e-3')), "config['agent']['learning_rate']: expected a number or dict(type=...) schedule; expected a finite number; received '1e-3'"),
    (dict(agent=dict(n_steps=5.5)), "config['agent']['n_steps']: expected an int >= 1; received 5.5"),
    (dict(agent=dict(n_steps=True)), "config['agent']['n_steps']: expected an int >= 1; received True (a bool)"),
    (dict(agent=dict(shared_network=1)), "config['agent']['shared_network']: expected True or False; received 1"),
    (dict(agent=dict(optimizer=3)), "config['agent']['optimizer']: expected one of ['adam', 'rmsprop', 'sgd']; received 3"),
    (dict(agent=dict(seed=3)), "config['agent']['seed']: set by config['seed'], not here"),
    (dict(agent=[0.1]), "config['agent']: expected an agent name or a dict of 'agent' and its options; received [0.1]"),
    (dict(envs=True), "config['envs']: expected an int >= 1; received True (a bool)"),
    (dict(envs='2'), "config['envs']: expected an int >= 1; received '2'"),
    (dict(steps=-5), "config['steps']: expected an int >= 1; received -5"),
    (dict(seed=1.5), "config['seed']: expected an int >= 0; received 1.5"),
    ([1, 2], "must hold a JSON object with some of"),
])
def test_bad_json_configs_are_refused_before_training(demo, tmp_path, document, message, capsys):
    path = tmp_path / 'run.json'
    path.write_text(json.dumps(document))
    with pytest.raises(SystemExit) as caught:
        demo.main(['--config', str(path), '--out', str(tmp_path / 'out')])
    err = capsys.readouterr()
    assert caught.value.code == 2 and message in err.err
    assert 'training PPO' not in err.out and not (tmp_path / 'out').exists()


@pytest.mark.parametrize('content, message', [
    (b'{"seed": "\xff"}', 'is not UTF-8 text'),
    (b'[' * 100_000 + b']' * 100_000, 'is nested too deep to be a configuration'),
    (b'{"seed": NaN}', 'NaN is not a number a configuration may hold'),
    (b'{"seed": ', 'is not valid JSON'),
])
def test_unreadable_config_files_are_clean_errors(demo, tmp_path, content, message, capsys):
    path = tmp_path / 'run.json'
    path.write_bytes(content)
    with pytest.raises(SystemExit) as caught:
        demo.main(['--config', str(path), '--out', str(tmp_path / 'out')])
    assert caught.value.code == 2 and message in capsys.readouterr().err


PAYLOAD = """
import pathlib
pathlib.Path('PWNED').write_text('the payload ran')

def double(x):
    return x * 2
"""


@pytest.fixture
def payload(tmp_path, monkeypatch):
    """A `payload.py` with a side effect in the current directory, which is on sys.path."""
    (tmp_path / 'payload.py').write_text(PAYLOAD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop('payload', None)


@pytest.mark.parametrize('document, message', [
    (dict(environment=dict(id='payload:Room-v0')),
     "config['environment']['id']: 'payload:Room-v0' would import the module 'payload'; pass --allow-imports for a "
     'file you trust'),
    (dict(preprocessing=dict(image=['normalize', 'payload.double'])),
     "config['preprocessing']: preprocessing['image'][1] (payload.double): 'payload.double' is not a registered "
     'plug-in, and safe mode refuses'),
    (dict(preprocessing=dict(image=[dict(type='payload.double')])),
     "config['preprocessing']: preprocessing['image'][0] (payload.double): 'payload.double' is not a registered "
     'plug-in'),
    (dict(network=dict(image=[dict(type='payload.double')])),
     "config['network']['image'][0]: 'payload.double' is not a registered plug-in, and safe mode refuses"),
    (dict(network=dict(layers=[dict(type='keras.layers.TFSMLayer', filepath='model', call_endpoint='serve')])),
     "config['network']['layers'][0]: 'keras.layers.TFSMLayer' is not a registered plug-in"),
])
def test_a_config_file_cannot_run_code(demo, payload, document, message, capsys):
    path = payload / 'run.json'
    path.write_text(json.dumps(document))
    with pytest.raises(SystemExit) as caught:
        demo.main(['--config', str(path), '--out', str(payload / 'out')])
    assert caught.value.code == 2 and message in capsys.readouterr().err
    assert 'payload' not in sys.modules and not (payload / 'PWNED').exists()


def test_allow_imports_lets_a_trusted_config_import_code(demo, payload):
    path = payload / 'run.json'
    path.write_text(json.dumps(dict(environment=dict(id='payload:Room-v0'))))
    with pytest.raises(ConfigError, match='would import the module'):
        demo.load_config(str(path), {})
    config = demo.load_config(str(path), {}, allow_imports=True)
    assert config.environment['id'] == 'payload:Room-v0'
    # code written by the user (no file) is trusted as it is
    assert demo.load_config(None, dict(seed=3)).seed == 3


def test_the_json_config_declares_the_same_run(demo, tmp_path):
    path = tmp_path / 'run.json'
    path.write_text(json.dumps({**demo.DEFAULT_CONFIG, 'steps': 32, 'envs': 2}))
    config = demo.load_config(str(path), {})
    assert config.preprocessing == demo.DEFAULT_CONFIG['preprocessing'] and config.steps == 32


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
    assert isinstance(Agent.load(tmp_path / 'agent'), PPO)


def test_a_short_fixed_seed_training_learns_to_read_the_caption(demo, tmp_path, capsys):
    # The demo's own configuration on a step budget (not a time one, so slower machines see the same run).
    config = demo.load_config(None, dict(steps=TRAINING_STEPS, seed=0))
    agent = demo.train(config, None, str(tmp_path))['agent']
    true = demo.evaluate(config, agent, swap=False, seed=50_000, episodes=100)
    swapped = demo.evaluate(config, agent, swap=True, seed=50_000, episodes=100)
    # a caption-blind agent reaches at most 1/3; a random one about 1/4
    assert true['success'] >= 0.5, (true, swapped)
    assert swapped['success'] <= 0.2, (true, swapped)


def test_the_asynchronous_mode_learns_to_read_the_caption_too(demo):
    # The same configuration and budget, acting in 2 worker processes one update behind the learner, the
    # preprocessing in the agent (run by the workers' policies): 0.92 true / 0.01 swapped when written.
    from modalbridge.agents.parallel import Overlapped
    config = demo.load_config(None, dict(steps=TRAINING_STEPS, seed=0))
    room = functools.partial(GymBridge, config.environment['id'], **config.environment.get('kwargs', {}))
    env = room()
    fields = {key: value for key, value in config.agent.items() if key != 'agent'}
    agent = PPO(env.states, env.actions, network=config.network, preprocessing=config.preprocessing,
                num_envs=config.envs, seed=0, **fields)
    with Overlapped(agent, room, workers=2) as overlapped:
        overlapped.run(timesteps=TRAINING_STEPS)
    true = demo.evaluate(config, agent, swap=False, seed=50_000, episodes=100)
    swapped = demo.evaluate(config, agent, swap=True, seed=50_000, episodes=100)
    assert true['success'] >= 0.5, (true, swapped)
    assert swapped['success'] <= 0.2, (true, swapped)


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)
ENTRIES = st.fixed_dictionaries({}, optional=dict(environment=JSON | st.fixed_dictionaries(
    {}, optional=dict(id=JSON | st.sampled_from(['modalbridge/CaptionRoom-v0', 'a:b-v0']), kwargs=JSON)),
    preprocessing=JSON, network=JSON, agent=JSON | st.dictionaries(
        st.sampled_from(['n_steps', 'learning_rate', 'optimizer', 'shared_network', 'seed', 'discount', 'x']),
        JSON, max_size=3),
    envs=JSON, steps=JSON, seed=JSON))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=ENTRIES)
def test_any_json_config_loads_or_is_a_config_error(demo, tmp_path, document):
    path = tmp_path / 'run.json'
    path.write_text(json.dumps(document))
    try:
        config = demo.load_config(str(path), {})
    except ConfigError:
        return
    assert isinstance(config, cli.RunConfig)
