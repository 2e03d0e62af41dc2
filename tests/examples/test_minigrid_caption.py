import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip('minigrid')
EXAMPLES = Path(__file__).resolve().parents[2] / 'examples'


@pytest.fixture(scope='module')
def example(load_example):
    return load_example('minigrid_caption')


def test_a_tiny_run_trains_and_evaluates_against_a_random_agent(example, capsys):
    result = example.main(['--steps', '64', '--envs', '2', '--episodes', '3'])
    assert set(result) == {'a2c', 'random'} and all(0.0 <= value <= 1.0 for value in result.values())
    assert 'success on 3 fresh episodes of MiniGrid-GoToObject-6x6-N2-v0' in capsys.readouterr().out


def test_the_mission_is_a_text_state_through_gymbridge(example):
    env = example.make_env('MiniGrid-GoToObject-6x6-N2-v0')
    assert sorted(env.states) == ['direction', 'image', 'mission']
    assert env.states['image'].shape == (56, 56, 3)
    mission = env.reset(seed=0)['mission'].item()
    assert mission.startswith('go to the ') and set(mission.split()) <= set(example.VOCABULARY)


@pytest.mark.parametrize('flags, message', [
    (['--steps', '0'], '--steps must be positive; received 0'),
    (['--minutes', '-1'], '--minutes must be positive; received -1'),
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
