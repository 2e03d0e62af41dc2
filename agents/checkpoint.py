"""Checkpoint directories: written whole or not at all, never over anything else.

A checkpoint is a directory holding ``agent.json`` (a JSON document, marked
with a ``format`` key and the list of the files the agent wrote) and those
files (the weights). `save` builds it in a staging directory beside `path`
and swaps it in:

1. the old checkpoint, if any, is renamed aside (``.NAME.replaced-*``);
2. the new one is renamed to `path`;
3. the aside copy is deleted.

If anything fails or is interrupted (any `BaseException`) at step 2, the old
checkpoint is renamed back, so `path` always holds a complete checkpoint, old
or new. If even that rename fails, the next `save` or `read` of `path` puts
the aside copy back. `save` refuses to replace anything that is not a
checkpoint of ours: a regular file, or a directory with other content
(notes, logs), is the user's, never deleted.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> def write_weights(directory):
...     with open(os.path.join(directory, 'weights.bin'), 'wb') as file:
...         file.write(b'0123')
>>> path = save(os.path.join(folder, 'agent'), dict(agent='A2C', states={}, actions={}), write_weights)
>>> read(path)['agent']
'A2C'
>>> sorted(os.listdir(path))
['agent.json', 'weights.bin']
>>> with open(os.path.join(folder, 'notes.txt'), 'w') as file:
...     _ = file.write('my notes')
>>> save(os.path.join(folder, 'notes.txt'), dict(agent='A2C', states={}, actions={}), write_weights)
... # doctest: +ELLIPSIS
Traceback (most recent call last):
...
modalbridge.bridges.errors.ConfigError: save: '...notes.txt' is a file, not a modalbridge checkpoint; it is left as it is (save to another path, or remove it yourself)
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from typing import Any, Callable

from modalbridge.bridges.errors import ConfigError

DOCUMENT = 'agent.json'
FORMAT = 'modalbridge-checkpoint/1'
BOOKKEEPING = ('format', 'files')
# Keys `read` checks when the document has them: key -> (expected, test).
FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    'agent': ('a string (the agent class)', lambda v: isinstance(v, str)),
    'states': ('a dict of spec dicts', lambda v: isinstance(v, dict) and all(isinstance(s, dict) for s in v.values())),
    'actions': ('a dict of spec dicts', lambda v: isinstance(v, dict) and all(isinstance(s, dict) for s in v.values())),
    'config': ('a dict', lambda v: isinstance(v, dict)),
    'timesteps': ('an int >= 0', lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    'episodes': ('an int >= 0', lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    'updates': ('an int >= 0', lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
}
REQUIRED = ('agent', 'states', 'actions')


def save(path: str | os.PathLike, document: dict[str, Any], write_weights: Callable[[str], None]) -> str:
    """Writes `document` and the weights as a checkpoint directory at `path`; returns `path`.

    `write_weights(directory)` writes the weight files into the staging
    directory. Raises `ConfigError` (before writing anything) if `path` is
    something other than a checkpoint, or if `document` is not JSON.
    """
    given = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    path = _path(path, 'save')
    if not isinstance(document, dict):
        raise ConfigError(f'save: the document must be a dict; received {type(document).__name__}')
    clash = [key for key in BOOKKEEPING if key in document]
    if clash:
        raise ConfigError(f'save: the document keys {clash} are reserved for the checkpoint format')
    try:
        text = json.dumps(dict(format=FORMAT, **document), indent=2, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ConfigError(f'save: the agent configuration is not JSON-serialisable ({error}); '
                          'a network given as a Python function cannot be saved') from error
    recover(path)
    _refuse_foreign(path)
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f'.{name}.saving-{uuid.uuid4().hex}')
    aside = os.path.join(parent, f'.{name}.replaced-{uuid.uuid4().hex}')
    os.mkdir(staging)
    try:
        _write(os.path.join(staging, DOCUMENT), text)
        write_weights(staging)
        files = sorted(_files(staging) - {DOCUMENT})
        _write(os.path.join(staging, DOCUMENT),
               json.dumps(dict(format=FORMAT, files=files, **document), indent=2, allow_nan=False))
        if os.path.lexists(path):
            os.rename(path, aside)
            try:
                os.rename(staging, path)
            except BaseException:
                os.rename(aside, path)
                raise
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(staging, path)
    finally:
        if os.path.lexists(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return given


def read(path: str | os.PathLike) -> dict[str, Any]:
    """The document `save` wrote at `path` (without the format's own keys).

    Every problem is a `ConfigError` naming the file and, where there is one,
    the key: not a checkpoint, not UTF-8, not JSON (or nested too deep), a
    missing or ill-typed key, a weight file listed but absent.
    """
    path = _path(path, 'load')
    recover(path)
    file = os.path.join(path, DOCUMENT)
    if not os.path.isdir(path) or not os.path.isfile(file):
        raise ConfigError(f'load: {path!r} is not an agent checkpoint (no {DOCUMENT})')
    document = load_json(file, 'load')
    if not isinstance(document, dict):
        raise ConfigError(f'load: {file!r} must hold a JSON object; it holds a {type(document).__name__}')
    if document.get('format') != FORMAT:
        raise ConfigError(f"load: {file!r}: 'format' must be {FORMAT!r} (a modalbridge checkpoint); "
                          f"received {document.get('format')!r}")
    files = document.get('files')
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ConfigError(f"load: {file!r}: 'files' must be a list of file names; received {files!r}")
    for key in REQUIRED:
        if key not in document:
            raise ConfigError(f'load: {file!r}: the key {key!r} is missing')
    for key, (expected, test) in FIELDS.items():
        if key in document and not test(document[key]):
            raise ConfigError(f'load: {file!r}: {key!r} must be {expected}; received {_short(document[key])}')
    root = os.path.realpath(path)
    for name in files:
        target = os.path.realpath(os.path.join(path, name))
        if os.path.commonpath([root, target]) != root or not os.path.isfile(target):
            raise ConfigError(f'load: {path!r} is incomplete: the file {name!r} listed in {DOCUMENT} is missing')
    return {key: value for key, value in document.items() if key not in BOOKKEEPING}


def load_json(file: str | os.PathLike, place: str) -> Any:
    """A JSON file written by someone else: every failure (not UTF-8, bad JSON,
    nesting too deep, NaN/Infinity) is a `ConfigError` naming the file."""
    file = os.fspath(file)
    try:
        with open(file, 'rb') as handle:
            raw = handle.read()
    except OSError as error:
        raise ConfigError(f'{place}: cannot read {file!r}: {error}') from error
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as error:
        raise ConfigError(f'{place}: {file!r} is not UTF-8 text ({error.reason} at byte {error.start})') from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise ConfigError(f'{place}: {file!r} is not valid JSON: {error}') from None
    except RecursionError:
        raise ConfigError(f'{place}: {file!r} is nested too deep to be a configuration') from None
    except ValueError as error:  # NaN / Infinity / a float overflowing to inf
        raise ConfigError(f'{place}: {file!r}: {error}') from None


def recover(path: str | os.PathLike) -> None:
    """Finishes an interrupted `save` of `path`: puts a checkpoint renamed aside back
    if `path` is missing, and deletes leftover staging and aside directories."""
    path = os.path.abspath(os.fspath(path))
    parent, name = os.path.split(path)
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    asides = sorted(e for e in entries if e.startswith(f'.{name}.replaced-'))
    if asides and not os.path.lexists(path):
        complete = [e for e in asides if is_checkpoint(os.path.join(parent, e))]
        if complete:
            try:
                os.rename(os.path.join(parent, complete[0]), path)
            except OSError:
                return  # a read-only place, say: leave everything as it is for a later attempt
    for entry in entries:
        if entry.startswith((f'.{name}.replaced-', f'.{name}.saving-')):
            full = os.path.join(parent, entry)
            if os.path.lexists(full):
                shutil.rmtree(full, ignore_errors=True)


def is_checkpoint(path: str | os.PathLike) -> bool:
    """Whether `path` is a directory `save` wrote and nothing else was added to."""
    path = os.fspath(path)
    try:
        with open(os.path.join(path, DOCUMENT), 'rb') as handle:
            document = json.loads(handle.read().decode('utf-8'))
    except (OSError, ValueError, RecursionError):
        return False
    if not isinstance(document, dict) or document.get('format') != FORMAT:
        return False
    files = document.get('files')
    if not isinstance(files, list):
        return False
    return _files(path) == set(files) | {DOCUMENT}


def _refuse_foreign(path: str) -> None:
    if not os.path.lexists(path):
        return
    if os.path.islink(path):
        raise ConfigError(f'save: {path!r} is a symbolic link, not a modalbridge checkpoint; it is left as it is '
                          '(save to another path, or remove it yourself)')
    if not os.path.isdir(path):
        raise ConfigError(f'save: {path!r} is a file, not a modalbridge checkpoint; it is left as it is '
                          '(save to another path, or remove it yourself)')
    if not os.listdir(path):
        return  # an empty directory: nothing to lose
    if not is_checkpoint(path):
        others = sorted(os.listdir(path))[:5]
        raise ConfigError(f'save: {path!r} is a directory that is not a modalbridge checkpoint (it holds '
                          f'{others}); it is left as it is (save to another path, or move its content away)')


def _files(directory: str) -> set[str]:
    found = set()
    for root, _, names in os.walk(directory):
        for name in names:
            found.add(os.path.relpath(os.path.join(root, name), directory).replace(os.sep, '/'))
    return found


def _write(file: str, text: str) -> None:
    with open(file, 'w', encoding='utf-8') as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _path(path: Any, place: str) -> str:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ConfigError(f'{place}: path must be a non-empty str or os.PathLike; received {path!r}')
    return os.path.abspath(os.fspath(path))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f'{name} is not a number a configuration may hold')


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f'{text} overflows a float')
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'
