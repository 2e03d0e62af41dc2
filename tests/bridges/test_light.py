import subprocess
import sys


def run(code):
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.split()


def test_importing_bridges_never_imports_tensorflow():
    code = ('import sys, modalbridge.bridges as b; b.GymBridge("CartPole-v1"); '
            'print("tensorflow" in sys.modules, "keras" in sys.modules)')
    assert run(code) == ['False', 'False']


def test_importing_bridges_imports_no_opencv_and_registers_nothing():
    code = ('import sys, gymnasium, modalbridge.bridges; '
            'print("cv2" in sys.modules, "modalbridge.envs" in sys.modules, '
            '"modalbridge/CaptionRoom-v0" in gymnasium.registry)')
    assert run(code) == ['False', 'False', 'False']


def test_a_built_in_id_works_through_gym_bridge_and_gymnasiums_module_form_without_an_import():
    code = ('import gymnasium; from modalbridge.bridges import GymBridge; '
            'print(sorted(GymBridge("modalbridge/CaptionRoom-v0").states)); '
            'print(gymnasium.make("modalbridge.envs:modalbridge/CaptionRoom-v0").spec.id)')
    assert run(code) == ["['caption',", "'image']", 'modalbridge/CaptionRoom-v0']


def test_the_public_api_is_exactly_the_curated_all():
    import modalbridge.bridges as bridges
    assert len(bridges.__all__) == len(set(bridges.__all__))
    assert all(hasattr(bridges, name) for name in bridges.__all__)
    assert 'envs' not in bridges.__all__
