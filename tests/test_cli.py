"""`python -m modalbridge train|evaluate|export`: each subcommand on CartPole in a subprocess, every error placed."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modalbridge import cli
from modalbridge.bridges import ConfigError

ROOT = Path(__file__).resolve().parents[1]
RUN = dict(environment=dict(id='CartPole-v1'), agent=dict(agent='ppo', n_steps=16, batch_size=32),
           network=[dict(type='dense', size=16)], steps=64, envs=2, seed=0)


def modalbridge(*args, cwd=None):
    return subprocess.run([sys.executable, '-m', 'modalbridge', *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp('run')
    config = folder / 'run.json'
    config.write_text(json.dumps(dict(RUN, out=str(folder / 'out'))))
    result = modalbridge('train', config, '--no-progress')
    assert result.returncode == 0, result.stderr
    return folder / 'out', result.stdout


def test_train_saves_the_checkpoint_and_the_run(trained):
    out, stdout = trained
    assert 'training PPO on CartPole-v1 with 2 environment(s) for up to 64 steps' in stdout
    assert 'trained 64 steps' in stdout
    assert (out / 'agent' / 'agent.json').exists()
    assert json.loads((out / 'run.json').read_text())['agent'] == RUN['agent']


def test_evaluate_prints_the_mean_return_of_the_checkpoint_on_the_runs_environment(trained):
    out, _ = trained
    result = modalbridge('evaluate', out / 'agent', '--episodes', 3, '--seed', 5)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('PPO on CartPole-v1: 3 episodes, mean return ')
    assert 'success rate' not in result.stdout  # CartPole reports no success


def test_export_writes_a_saved_model_that_acts_like_the_agent(trained, tmp_path):
    import tensorflow as tf

    from modalbridge.agents import Agent

    out, _ = trained
    result = modalbridge('export', out / 'agent', tmp_path / 'saved')
    assert result.returncode == 0, result.stderr
    model = tf.saved_model.load(str(tmp_path / 'saved'))
    states = dict(state=np.linspace(-0.1, 0.1, 8, dtype=np.float32).reshape(2, 4))
    exported = {name: np.asarray(value) for name, value in
                model.signatures['serving_default'](**{k: tf.constant(v) for k, v in states.items()}).items()}
    agent = Agent.load(out / 'agent')
    np.testing.assert_array_equal(exported['action'],
                                  agent.act(states, deterministic=True, independent=True)['action'])


def test_a_bad_configuration_exits_2_with_one_line_naming_the_entry(tmp_path):
    config = tmp_path / 'bad.json'
    config.write_text(json.dumps(dict(RUN, agent=dict(agent='ppo', learning_rate='1e-3'))))
    result = modalbridge('train', config)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "modalbridge train: configuration error: config['agent']['learning_rate']: ")
    assert not (tmp_path / 'runs').exists()


@pytest.mark.parametrize('agent, message', [
    (dict(n_steps=8), r"^config\['agent'\]: expected exactly one of \['agent', 'type'\] naming the agent"),
    (dict(agent='ppo', learning_rat=1e-3), r"^config\['agent'\]\['learning_rat'\]: unknown option"),
])
def test_the_agents_errors_are_placed_under_its_entry(agent, message, tmp_path):
    config = cli.RunConfig.from_dict(dict(RUN, agent=agent, out=str(tmp_path)))
    with pytest.raises(ConfigError, match=message):
        cli.train(config, progress=False)
    assert not (tmp_path / 'agent').exists()


def test_training_stops_at_the_time_limit_and_still_saves(tmp_path):
    config = cli.RunConfig.from_dict(dict(RUN, steps=1_000_000, minutes=1e-4, out=str(tmp_path)))
    result = cli.train(config, progress=False)
    assert 0 < result['timesteps'] < 1_000_000 and not result['interrupted']
    assert (tmp_path / 'agent' / 'agent.json').exists()


def test_training_with_workers_acts_in_worker_processes_and_saves(tmp_path):
    config = cli.RunConfig.from_dict(dict(RUN, steps=256, workers=2, out=str(tmp_path)))
    result = cli.train(config, progress=False)
    assert result['timesteps'] == 256 and result['agent'].updates == 8  # 2 envs x 16 steps per update
    assert result['history'].episodes > 0 and not result['interrupted']
    assert (tmp_path / 'agent' / 'agent.json').exists()
    with pytest.raises(ConfigError, match=r"^config\['workers'\]: Overlapped: needs a PPO"):
        cli.train(cli.RunConfig.from_dict(dict(RUN, agent='dqn', workers=1, out=str(tmp_path / 'dqn'))),
                  progress=False)


def test_the_console_script_is_declared():
    scripts = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']['scripts']
    assert scripts == {'modalbridge': 'modalbridge.cli:main'}


# -- errors, in process (nothing is trained) -----------------------------------

@pytest.mark.parametrize('change, message', [
    (dict(step=10), r"^config\['step'\]: unknown key \(did you mean 'steps'\?\)"),
    (dict(steps=0), r"^config\['steps'\]: "),
    (dict(envs='2'), r"^config\['envs'\]: "),
    (dict(seed=-1), r"^config\['seed'\]: "),
    (dict(out=''), r"^config\['out'\]: "),
    (dict(environment='CartPole-v1'), r"^config\['environment'\]: expected a dict"),
    (dict(environment=dict(name='CartPole-v1')), r"^config\['environment'\]\['name'\]: unknown key"),
    (dict(environment=dict(id=3)), r"^config\['environment'\]\['id'\]: expected a Gymnasium id"),
    (dict(environment=dict(id='CartPole-v1', kwargs=[1])), r"^config\['environment'\]\['kwargs'\]: "),
    (dict(agent=3), r"^config\['agent'\]: expected an agent name"),
    (dict(agent=dict(agent='ppo', network='auto')), r"^config\['agent'\]\['network'\]: given twice"),
    (dict(agent=dict(agent='ppo', seed=3)), r"^config\['agent'\]\['seed'\]: set by config\['seed'\], not here"),
    (dict(agent=dict(agent='ppo', num_envs=3)), r"^config\['agent'\]\['num_envs'\]: set by config\['envs'\]"),
    (dict(minutes=0), r"^config\['minutes'\]: "),
    (dict(workers=-1), r"^config\['workers'\]: "),
    (dict(envs=3, workers=2), r"^config\['workers'\]: the 3 environments of config\['envs'\] do not split evenly"),
    (dict(minutes=float('nan')), r"^config\['minutes'\]: "),
    (dict(preprocessing='stack.json'), r"^config\['preprocessing'\]: expected a dict of per-state lists"),
])
def test_a_bad_run_entry_is_refused_naming_it(change, message):
    with pytest.raises(ConfigError, match=message):
        cli.RunConfig.from_dict(dict(RUN, **change))


@pytest.mark.parametrize('missing', ['environment', 'agent'])
def test_a_missing_entry_is_named(missing):
    document = {k: v for k, v in RUN.items() if k != missing}
    with pytest.raises(ConfigError, match=rf"^config\['{missing}'\]: missing"):
        cli.RunConfig.from_dict(document)


def test_a_config_file_cannot_import_a_module_through_the_environment_id(tmp_path, capsys):
    config = tmp_path / 'run.json'
    config.write_text(json.dumps(dict(RUN, environment=dict(id='os:Env-v0'), out=str(tmp_path / 'out'))))
    with pytest.raises(SystemExit) as exit:
        cli.run(['train', str(config)])
    assert exit.value.code == 2
    assert "config['environment']['id']: 'os:Env-v0' would import the module 'os'" in capsys.readouterr().err


def test_a_config_file_resolves_its_declarations_in_safe_mode(tmp_path, capsys):
    module = 'tests.preprocess.plugins'
    sys.modules.pop(module, None)
    config = tmp_path / 'run.json'
    config.write_text(json.dumps(dict(RUN, preprocessing=dict(state=[dict(type=f'{module}.Negate')]),
                                      out=str(tmp_path / 'out'))))
    with pytest.raises(SystemExit):
        cli.run(['train', str(config)])
    assert 'registered' in capsys.readouterr().err
    assert module not in sys.modules


def test_a_config_that_is_not_json_is_named(tmp_path, capsys):
    config = tmp_path / 'run.json'
    config.write_text('{"agent": ')
    with pytest.raises(SystemExit):
        cli.run(['train', str(config)])
    assert "run.json' is not valid JSON" in capsys.readouterr().err


def test_evaluate_without_an_environment_or_a_run_file_says_so(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.run(['evaluate', str(tmp_path / 'agent')])
    assert 'no --env given and no run.json beside' in capsys.readouterr().err


@pytest.mark.parametrize('argv, message', [
    (['evaluate', 'x', '--env', 'CartPole-v1', '--env-kwargs', '{'], '--env-kwargs is not valid JSON'),
    (['evaluate', 'x', '--env', 'CartPole-v1', '--episodes', '0'], '--episodes: '),
    (['export', 'x', 'y', '--batch-size', '0'], '--batch-size: '),
])
def test_bad_flags_are_named(argv, message, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.run(argv)
    assert exit.value.code == 2 and message in capsys.readouterr().err


def room(vocabulary):
    return cli.RunConfig.from_dict(dict(environment=dict(id='modalbridge/CaptionRoom-v0'), agent='a2c',
                                         preprocessing=dict(caption=[dict(type='tokenize', length=6,
                                                                          vocabulary=vocabulary)])))


def test_a_vocabulary_covering_the_task_passes_the_check():
    from modalbridge.envs.caption_room import CaptionRoom

    assert cli.check_vocabulary(room(CaptionRoom().vocabulary)) == {'caption': 0.0}


def test_a_vocabulary_missing_words_of_the_task_is_refused_before_training(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"^config\['preprocessing'\]\['caption'\]: the tokenizer's vocabulary "
                                          r"misses \d+\.\d% of the words .* such as in \['go to the"):
        cli.check_vocabulary(room(['go', 'to', 'the', 'red', 'ball']))
    config = tmp_path / 'room.json'
    config.write_text(json.dumps(dict(room(['go', 'to', 'the']).to_dict(), out=str(tmp_path / 'out'))))
    with pytest.raises(SystemExit):
        cli.run(['train', str(config)])
    assert "vocabulary misses" in capsys.readouterr().err and not (tmp_path / 'out').exists()



JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda children: st.lists(children, max_size=3)
                    | st.dictionaries(st.text(max_size=5), children, max_size=3), max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(RUN) + ['out', 'unknown']), JSON)
def test_any_json_value_in_any_entry_is_a_run_or_a_config_error(key, value):
    try:
        cli.RunConfig.from_dict(dict(RUN, **{key: value}))
    except ConfigError as error:
        assert str(error).startswith('config')
