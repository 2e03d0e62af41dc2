"""The wheel holds every package folder (a non-editable install once lacked modalbridge.bridges.envs),
and src/ is a plain src layout whose subpackages are links to the top-level folders."""

import importlib.metadata
import os
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINKED = ('bridges', 'preprocess', 'agents', 'envs')


def test_src_is_the_only_package_root():
    config = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['setuptools']
    assert config['package-dir'] == {'': 'src'}


def test_the_subpackages_are_relative_links_to_the_top_level_folders():
    for name in LINKED:
        link = ROOT / 'src' / 'modalbridge' / name
        assert link.is_symlink(), f'src/modalbridge/{name} is not a symlink'
        assert os.readlink(link) == f'../../{name}', os.readlink(link)  # relative: survives moving the checkout
        assert link.resolve() == (ROOT / name).resolve()


def test_every_folder_with_an_init_is_a_listed_package():
    listed = set(tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['setuptools']['packages'])
    found = set()
    for folder, _, files in os.walk(ROOT / 'src', followlinks=True):
        if '__init__.py' in files and '__pycache__' not in folder:
            found.add('.'.join(Path(folder).relative_to(ROOT / 'src').parts))
    assert found == listed, f'not listed: {sorted(found - listed)}; listed, absent: {sorted(listed - found)}'


def test_the_license_is_apache_2_and_shipped():
    project = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
    assert project['license'] == 'Apache-2.0' and project['license-files'] == ['LICENSE']
    text = (ROOT / 'LICENSE').read_text()
    assert text.split()[:4] == ['Apache', 'License', 'Version', '2.0,'] and 'END OF TERMS AND CONDITIONS' in text


def test_the_project_urls_point_at_the_repository():
    urls = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']['urls']
    assert set(urls) == {'Homepage', 'Documentation', 'Repository', 'Issues', 'Changelog'}
    assert urls['Repository'] == 'https://github.com/modalbridge/modalbridge'
    assert all(url.startswith('https://') for url in urls.values())


def test_the_editable_install_is_a_path_that_static_tools_follow():
    # An import hook (setuptools' finder for a per-folder package-dir) is invisible to mypy,
    # pyright/Pylance and Jedi; a path file naming src/ is what they read.
    files = [file for dist in importlib.metadata.distributions(name='modalbridge') for file in dist.files or []]
    paths = [file for file in files if file.name.startswith('__editable__') and file.name.endswith('.pth')]
    if not paths:
        pytest.skip('modalbridge is not installed in editable mode here')
    lines = paths[0].read_text().split()
    assert [Path(line).resolve() for line in lines] == [(ROOT / 'src').resolve()], lines
