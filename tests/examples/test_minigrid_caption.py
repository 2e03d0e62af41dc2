import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modalbridge.agents import Agent

pytest.importorskip('minigrid')
EXAMPLES = Path(__file__).resolve().parents[2] / 'examples'


@pytest.fixture(scope='module')
def example(load_example):
    return load_example('minigrid_caption')


def test_a_tiny_run_trains_evaluates_and_saves_an_agent_that_acts_identically(example, tmp_path, capsys):
    result = example.main(['--steps', '64', '--envs', '2', '--episodes', '3', '--out', str(tmp_path)])
    assert set(result) == {'a2c', 'random', 'agent', 'path'}
    assert all(0.0 <= result[key] <= 1.0 for key in ('a2c', 'random'))
    assert 'success on 3 fresh episodes of MiniGrid-GoToObject-6x6-N2-v0' in capsys.readouterr().out

    loaded = Agent.load(result['path'])
    env = example.make_env('MiniGrid-GoToObject-6x6-N2-v0')
    raw = [env.reset(seed=seed) for seed in range(8)]
    batch = {name: np.stack([states[name] for states in raw]) for name in raw[0]}
    np.testing.assert_array_equal(result['agent'].act(batch, deterministic=True, independent=True)['action'],
                                  loaded.act(batch, deterministic=True, independent=True)['action'])


def test_the_mission_is_a_text_state_through_gymbridge(example):
    env = example.make_env('MiniGrid-GoToObject-6x6-N2-v0')
    assert sorted(env.states) == ['direction', 'image', 'mission']
    assert env.states['image'].shape == (56, 56, 3)
    mission = env.reset(seed=0)['mission'].item()
    assert mission.startswith('go to the ') and set(mission.split()) <= set(example.VOCABULARY)


@pytest.mark.parametrize('flags, message', [
    (['--steps', '0'], '--steps must be positive; received 0'),
    (['--minutes', '-1'], '--minutes must be positive; received -1'),
    (['--seed', '-1'], '--seed must be >= 0; received -1'),
])
def test_bad_flags_are_usage_errors(example, flags, message, capsys):
    with pytest.raises(SystemExit) as caught:
        example.main(flags)
    assert caught.value.code == 2 and message in capsys.readouterr().err


def test_without_minigrid_the_example_says_which_extra_to_install():
    script = EXAMPLES / 'minigrid_caption.py'
    code = f"import runpy, sys; sys.modules['minigrid'] = None; runpy.run_path({str(script)!r}, run_name='__main__')"
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "this example needs minigrid: pip install -e '.[minigrid]'" in done.stderr
