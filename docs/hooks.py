"""mkdocs hook: lets mkdocstrings (griffe) find the modalbridge packages.

The package folders are mapped by setuptools' package-dir (``bridges/`` is
``modalbridge.bridges``), which griffe's static analysis cannot follow: it
looks for a folder named like the package. This hook lays out a tree of
folders, ``modalbridge/{bridges,envs,preprocess,agents}``, of links to the files,
in a temporary folder and puts it first on sys.path, where mkdocstrings looks.
"""

import atexit
import os
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[1]
TREE: str | None = None


def _tree() -> Path:
    folders = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['setuptools']['package-dir']
    top = Path(tempfile.mkdtemp(prefix='modalbridge-api-'))
    atexit.register(shutil.rmtree, top, ignore_errors=True)
    # Real folders, linked files: griffe does not descend into linked folders.
    for package, folder in sorted(folders.items()):
        shutil.copytree(ROOT / folder, top.joinpath(*package.split('.')), copy_function=os.symlink,
                        ignore=shutil.ignore_patterns('__pycache__'), dirs_exist_ok=True)
    return top


@event_priority(100)  # before mkdocstrings' own on_config, which sets its search paths
def on_config(config):
    # mkdocstrings' Python handler searches its `paths` (here the project root, which has
    # no modalbridge/ folder) and then sys.path, ahead of the editable install's folders.
    global TREE
    if TREE is None:  # once per process (mkdocs serve calls on_config on every rebuild)
        TREE = str(_tree())
        sys.path.insert(0, TREE)
    return config
