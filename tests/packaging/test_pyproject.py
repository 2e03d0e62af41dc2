"""The wheel holds every package folder (a non-editable install once lacked modalbridge.bridges.envs)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_folder_with_an_init_is_a_listed_package():
    config = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['setuptools']
    listed, folders = set(config['packages']), config['package-dir']
    assert set(folders) == listed
    found = set()
    for package, folder in folders.items():
        for init in (ROOT / folder).rglob('__init__.py'):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add('.'.join((package,) + parts))
    assert found == listed, f'not in pyproject packages: {sorted(found - listed)}'
