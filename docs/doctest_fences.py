"""griffe extension: the docstrings' ``>>>`` examples as fenced ``pycon`` code.

The docstrings are plain text with doctest examples (run by
tests/test_docstrings.py); Markdown would read a ``>>>`` line as three nested
quotes. A run of lines from a ``>>>`` line to the next blank line becomes a
fenced block; one indented under a reST ``::`` is already code and stays.
"""

import re
from typing import Any

import griffe

PROMPT = re.compile(r'^(\s*)>>> ')
LIST_ITEM = re.compile(r'^\s*(?:[*+-]|\d+\.)\s')


def _base(previous: list[str]) -> int:
    """The indentation of text at this point: the last line's, or its content's in a list item."""
    for line in reversed(previous):
        if line.strip():
            indent = len(line) - len(line.lstrip())
            return indent + 4 if LIST_ITEM.match(line) else indent
    return 0


def fence(text: str) -> str:
    lines, out, index = text.splitlines(), [], 0
    while index < len(lines):
        match = PROMPT.match(lines[index])
        if not match:
            out.append(lines[index])
            index += 1
            continue
        indent = match.group(1)
        if len(indent) >= _base(out) + 4:  # already an indented code block (after a reST '::')
            while index < len(lines) and (lines[index].strip() == '' or lines[index].startswith(indent)):
                out.append(lines[index])
                index += 1
            continue
        if out and out[-1].strip():
            out.append('')
        out.append(f'{indent}```pycon')
        while index < len(lines) and lines[index].strip():
            out.append(lines[index])
            index += 1
        out.append(f'{indent}```')
    return '\n'.join(out)


class DoctestFences(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and '>>>' in obj.docstring.value:
            obj.docstring.value = fence(obj.docstring.value)
