"""Helpers shared by the benchmark scripts: timing, tables and JSON results."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

RESULTS = Path(__file__).resolve().parent / 'results'


def timeit(function: Callable[[], Any], number: int, repeat: int = 7) -> float:
    """Seconds per call: the fastest of `repeat` runs of `number` calls (the
    least disturbed by other load on a shared machine)."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        runs.append((time.perf_counter() - start) / number)
    return min(runs)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[str(row.get(column, '')) for column in columns] for row in rows]
    widths = [max(len(column), *(len(cell[i]) for cell in cells)) for i, column in enumerate(columns)]
    line = lambda values: '  '.join(value.rjust(width) for value, width in zip(values, widths))  # noqa: E731
    return '\n'.join([line(columns), line(['-' * width for width in widths])] + [line(cell) for cell in cells])


def write(name: str, rows: list[dict[str, Any]], **extra: Any) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f'{name}.json'
    payload = dict(benchmark=name, time=time.strftime('%Y-%m-%dT%H:%M:%S'), machine=platform.machine(),
                   cpus=os.cpu_count(), python=platform.python_version(), rows=rows, **extra)
    path.write_text(json.dumps(payload, indent=2) + '\n')
    return path
