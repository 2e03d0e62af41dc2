"""The built-in ids are reachable the ways a Gymnasium 1.x user expects, each in a fresh interpreter.

Gymnasium 1.x (``gymnasium/envs/registration.py``) imports a module only for the
``module:id`` form (``_find_spec``); ``register_envs`` is a no-op that names the
module so linters keep the import, and nothing maps a missing namespace to a
package. So, as for ale-py, MiniGrid and highway-env, importing the package
registers its ids, and the bare id with no import at all cannot work.
"""

import subprocess
import sys

import pytest


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('env_id', ['modalbridge/CaptionRoom-v0', 'modalbridge/CaptionRoomMemory-v0'])
def test_register_envs_then_make_as_with_ale_py(env_id):
    code = ('import gymnasium as gym, modalbridge.envs; gym.register_envs(modalbridge.envs); '
            f'env = gym.make({env_id!r}); obs, info = env.reset(seed=0); print(env.spec.id, sorted(obs))')
    result = _run(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [env_id, "['caption',", "'image']"]


def test_the_module_form_imports_modalbridge_envs_with_no_prior_import():
    code = ('import sys, gymnasium as gym; assert not any(m.startswith("modalbridge") for m in sys.modules); '
            'env = gym.make("modalbridge.envs:modalbridge/CaptionRoom-v0"); '
            'print(env.spec.id, "modalbridge.envs" in sys.modules, "tensorflow" in sys.modules)')
    result = _run(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ['modalbridge/CaptionRoom-v0', 'True', 'False']


def test_the_bare_id_without_any_import_is_gymnasiums_namespace_not_found():
    # Pins the limit the README states: if a Gymnasium release adds a namespace -> module
    # lookup, this fails and the README's "Bridge an environment" paragraph must change.
    code = ('import gymnasium as gym\n'
            'try:\n    gym.make("modalbridge/CaptionRoom-v0")\n'
            'except gym.error.NamespaceNotFound as error:\n    print("NamespaceNotFound")\n')
    result = _run(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == 'NamespaceNotFound'
