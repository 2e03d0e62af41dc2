import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / 'examples' / 'custom_environment.py'


def test_custom_environment_example_checks_and_runs(capsys):
    runpy.run_path(str(EXAMPLE), run_name='__main__')
    out = capsys.readouterr().out
    assert '11 passed, 0 failed, 0 skipped' in out
    assert 'first instruction: switch off the' in out
    assert 'random agent over 200 episodes: mean return' in out


def test_the_example_environment_registered_with_gymnasium_passes_check_env(load_example):
    import gymnasium
    from gymnasium.utils.env_checker import check_env

    from modalbridge.bridges import to_gymnasium

    lights_out = load_example('custom_environment').LightsOut
    if 'modalbridge-example/LightsOut-v0' not in gymnasium.registry:
        gymnasium.register('modalbridge-example/LightsOut-v0', entry_point=lambda: to_gymnasium(lights_out()))
    check_env(gymnasium.make('modalbridge-example/LightsOut-v0').unwrapped, skip_render_check=True)
