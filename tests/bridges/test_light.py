import subprocess
import sys


def test_importing_bridges_never_imports_tensorflow():
    code = ('import sys, modalbridge.bridges as b; b.GymBridge("CartPole-v1"); '
            'print("tensorflow" in sys.modules, "keras" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ['False', 'False']
