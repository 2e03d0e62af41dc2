"""`modalbridge` is a regular package holding `__version__`, one source of the version,
and importing it (or `modalbridge.bridges`) imports neither TensorFlow nor the other layers."""

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import modalbridge

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_the_installed_distributions():
    assert modalbridge.__version__ == importlib.metadata.version('modalbridge')
    assert modalbridge.__file__ == str(ROOT / 'src' / 'modalbridge' / '__init__.py')  # one copy, the mapped folder


def test_pyproject_reads_the_version_from_the_package():
    project = tomllib.loads((ROOT / 'pyproject.toml').read_text())
    assert 'version' in project['project']['dynamic']
    assert project['tool']['setuptools']['dynamic']['version'] == {'attr': 'modalbridge.__version__'}


def test_importing_modalbridge_and_its_bridges_loads_no_tensorflow():
    code = ('import sys, modalbridge; assert not any(m.startswith("modalbridge.") for m in sys.modules), '
            'sorted(sys.modules); import modalbridge.bridges; '
            'assert "tensorflow" not in sys.modules and "cv2" not in sys.modules')
    subprocess.run([sys.executable, '-c', code], check=True, timeout=120, cwd=ROOT)


def test_every_package_is_typed():
    packages = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['setuptools']['packages']
    for package in packages:
        assert (ROOT / 'src' / package.replace('.', '/') / 'py.typed').is_file(), f'{package} has no py.typed'


def test_the_metadata_is_complete_for_an_index_upload():
    project = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
    for field in ('name', 'description', 'readme', 'requires-python', 'license', 'license-files', 'authors',
                  'keywords', 'classifiers', 'dependencies', 'urls'):
        assert project.get(field), f'pyproject [project] lacks {field}'
    assert 'Typing :: Typed' in project['classifiers']
    assert {'dev', 'docs'} <= set(project['optional-dependencies'])
