import json

import numpy as np
import pytest

from modalbridge.agents import Agent

pytest.importorskip('minigrid')
ENV = 'BabyAI-GoToLocal-v0'


@pytest.fixture(scope='module')
def example(load_example):
    return load_example('babyai')


@pytest.mark.parametrize('memory', [0, 16])
def test_a_tiny_run_trains_evaluates_and_saves_an_agent_that_acts_identically(example, tmp_path, capsys, memory):
    result = example.main(['--steps', '64', '--envs', '2', '--episodes', '2', '--backend', 'minigrid',
                           '--memory', str(memory), '--out', str(tmp_path)])
    assert result['backend'] == 'minigrid' and result['memory'] == memory and result['timesteps'] >= 64
    out = capsys.readouterr().out
    assert f'2 fresh episodes of {ENV} (sampled actions)' in out and 'BabyAI 1.1 baselines' in out
    assert json.loads((tmp_path / 'results.json').read_text())['ppo'] == result['ppo']
    assert result['agent'].policy.recurrent == bool(memory)

    loaded = Agent.load(result['path'])
    envs = example.make_envs(ENV, 4, 'minigrid', 0)
    batch = envs.reset(seed=0)
    assert all(set(m.split()) <= set(example.VOCABULARY) for m in batch['mission'])
    if memory:
        internals = {k: np.repeat(v[None], 4, axis=0) for k, v in loaded.initial_internals().items()}
        act = lambda agent: agent.act(batch, internals=internals, deterministic=True, independent=True)[0]  # noqa: E731
    else:
        act = lambda agent: agent.act(batch, deterministic=True, independent=True)  # noqa: E731
    np.testing.assert_array_equal(act(result['agent'])['action'], act(loaded)['action'])


@pytest.mark.parametrize('flags, message', [
    (['--envs', '0'], '--envs must be positive; received 0'),
    (['--memory', '-1'], '--memory must be >= 0; received -1'),
    (['--budget', '0'], '--budget must be positive; received 0'),
])
def test_bad_flags_are_usage_errors(example, flags, message, capsys):
    with pytest.raises(SystemExit) as caught:
        example.main(flags)
    assert caught.value.code == 2 and message in capsys.readouterr().err
