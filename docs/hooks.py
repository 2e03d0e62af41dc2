"""mkdocs hook: lets mkdocstrings (griffe) find the modalbridge packages.

The package is ``src/modalbridge``, whose subpackages are symlinks to the
top-level folders (``src/modalbridge/bridges -> ../../bridges``), and griffe
does not descend into linked folders. This hook lays out a tree of real
folders, ``modalbridge/{bridges,envs,preprocess,agents}``, of links to the
files, in a temporary folder and puts it first on sys.path, where
mkdocstrings looks.
"""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[1]
TREE: str | None = None


def _tree() -> Path:
    top = Path(tempfile.mkdtemp(prefix='modalbridge-api-'))
    atexit.register(shutil.rmtree, top, ignore_errors=True)
    # Real folders, linked files (copytree follows the linked folders, symlinks=False).
    shutil.copytree(ROOT / 'src' / 'modalbridge', top / 'modalbridge', copy_function=os.symlink,
                    ignore=shutil.ignore_patterns('__pycache__'))
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
