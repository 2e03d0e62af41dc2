"""A non-editable install works: the wheel holds every subpackage, and the
three layers import and run from it in a fresh virtual environment."""

import pathlib
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from email.parser import Parser

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FOLDERS = {'src/modalbridge': 'modalbridge', 'bridges': 'modalbridge.bridges', 'preprocess': 'modalbridge.preprocess',
           'agents': 'modalbridge.agents', 'envs': 'modalbridge.envs'}


def _source_packages() -> set[str]:
    found = set()
    for folder, package in FOLDERS.items():
        for init in (ROOT / folder).rglob('__init__.py'):
            if '__pycache__' in init.parts:
                continue
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add('.'.join((package,) + relative))
    return found


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp('wheel')
    # built from a copy, so setuptools' build/ and egg-info folders never land in the working tree
    source = tmp_path_factory.mktemp('source') / 'modalbridge'
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns('.git', '.venv', 'build', 'site', 'runs', '*.egg-info',
                                                                '__pycache__', '.hypothesis', '.pytest_cache'))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q', '-w', str(out),
                    str(source)], check=True, capture_output=True, timeout=300)
    wheels = list(out.glob('modalbridge-*.whl'))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_wheel_holds_every_subpackage(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    packed = {'.'.join(pathlib.PurePosixPath(name).parent.parts) for name in names if name.endswith('/__init__.py')}
    missing = _source_packages() - packed
    assert not missing, f'the wheel lacks {sorted(missing)}'
    typed = {'.'.join(pathlib.PurePosixPath(name).parent.parts) for name in names if name.endswith('/py.typed')}
    assert typed == _source_packages(), f'py.typed missing in {sorted(_source_packages() - typed)}'


def test_the_wheel_metadata_is_complete_for_an_index_upload(wheel):
    # What `twine check` checks (twine is not a dependency): the core fields an index needs, a
    # long description with its content type, and the license text shipped in the wheel.
    with zipfile.ZipFile(wheel) as archive:
        info = next(name for name in archive.namelist() if name.endswith('.dist-info/METADATA'))
        metadata = Parser().parsestr(archive.read(info).decode())
        license_text = archive.read(info.replace('METADATA', 'licenses/LICENSE')).decode()
    assert float(metadata['Metadata-Version']) >= 2.4  # License-Expression needs 2.4
    for field in ('Name', 'Version', 'Summary', 'Author', 'Requires-Python'):
        assert metadata[field], f'METADATA lacks {field}'
    assert metadata['License-Expression'] == 'Apache-2.0' and metadata['License-File'] == 'LICENSE'
    assert license_text == (ROOT / 'LICENSE').read_text()
    assert metadata['Description-Content-Type'] == 'text/markdown'
    assert metadata.get_payload().startswith('# modalbridge')
    urls = dict(url.split(', ', 1) for url in metadata.get_all('Project-URL'))
    assert set(urls) == {'Homepage', 'Documentation', 'Repository', 'Issues', 'Changelog'}
    assert 'Typing :: Typed' in metadata.get_all('Classifier')


def test_the_wheel_imports_and_runs_in_a_fresh_environment(wheel, tmp_path):
    target = tmp_path / 'venv'
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / 'bin' / 'python'
    # The dependencies come from this interpreter's site-packages (a .pth line adds the
    # directory without running its .pth files, so the editable install stays invisible);
    # modalbridge itself only from the wheel.
    site = subprocess.run([str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          check=True, capture_output=True, text=True).stdout.strip()
    pathlib.Path(site, 'dependencies.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    subprocess.run([sys.executable, '-m', 'pip', '--python', str(python), 'install', '-q', '--no-deps',
                    str(wheel)], check=True, capture_output=True, timeout=300)
    result = subprocess.run([str(python), str(ROOT / 'tests' / 'packaging' / 'smoke.py')], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'wheel smoke ok' in result.stdout
