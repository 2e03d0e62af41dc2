"""Helpers shared by the benchmark scripts: interleaved timing, tables and JSON results.

Benchmarks here compare variants (ours and a peer) that run on a shared,
noisy machine. Timing one variant in a block and then the other misleads:
a peer's time once swung from 214 to 134 us inside one run. So `compare`
runs every variant once per round, in a rotating order, and reports for
each variant its median time and the **median of its same-round ratios**
to the reference, with the spread (25th-75th percentile) of those ratios.

    pin()                       # one core, one thread per library: call before importing numpy users
    result = compare({'gymnasium': peer_step, 'ours': our_step}, number=2000, rounds=15,
                     reference='gymnasium')
    result['ours']['ratio']     # median over rounds of t_ours / t_gymnasium

With ``clock='cpu'`` the figures are this process's CPU time, which other
jobs on a shared machine barely move (wall time swings 2-3x with them);
the wall-time medians are kept beside them.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Mapping

RESULTS = Path(__file__).resolve().parent / 'results'
THREAD_VARIABLES = ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'TF_NUM_INTRAOP_THREADS',
                    'TF_NUM_INTEROP_THREADS')


def pin(core: int | None = 0, threads: int = 1) -> None:
    """Pins this process to one core and caps library thread pools (call before heavy imports).

    `core=None` leaves the affinity alone (for multi-core measurements).
    """
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, str(threads))
    if core is not None and hasattr(os, 'sched_setaffinity'):
        os.sched_setaffinity(0, {core})


def conditions() -> dict[str, Any]:
    """What a result depends on besides the code: recorded in every JSON."""
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else None
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return dict(machine=platform.machine(), cpus=os.cpu_count(), affinity=affinity, load_average=load,
                python=platform.python_version(),
                threads={variable: os.environ.get(variable) for variable in THREAD_VARIABLES})


CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def _once(function: Callable[[], Any], number: int) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) per call."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(number):
        function()
    return (time.perf_counter() - start) / number, (time.process_time() - cpu) / number


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def compare(variants: Mapping[str, Callable[[], Any]], number: int, rounds: int = 15,
            reference: str | None = None, warmup: int = 1, clock: str = 'wall') -> dict[str, dict[str, Any]]:
    """Seconds per call of each variant, interleaved round by round (see the module docstring).

    Returns ``{name: dict(seconds=median, ratio=median same-round ratio to the reference,
    ratio_p25=..., ratio_p75=..., samples=[seconds per call in each round], wall_seconds=...,
    cpu_seconds=...)}``; the reference defaults to the first variant. `clock` picks what `seconds`,
    the ratios and `samples` measure: ``'wall'`` time or ``'cpu'``, this process's CPU time (on a
    machine shared with other jobs, what the wall time would be on a quiet one; both medians are
    kept either way). `same_round` turns the samples into other per-round figures.
    """
    if clock not in CLOCKS:
        raise ValueError(f'clock: expected one of {list(CLOCKS)}; received {clock!r}')
    names = list(variants)
    reference = names[0] if reference is None else reference
    for _ in range(warmup):
        for name in names:
            _once(variants[name], max(1, number // 10))
    walls: dict[str, list[float]] = {name: [] for name in names}
    cpus: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)  # rotate the order so no variant always runs first
        for name in names[shift:] + names[:shift]:
            wall, cpu = _once(variants[name], number)
            walls[name].append(wall)
            cpus[name].append(cpu)
    times = cpus if clock == 'cpu' else walls
    out = {}
    for name in names:
        ratios = [t / r for t, r in zip(times[name], times[reference])]
        out[name] = dict(seconds=statistics.median(times[name]), ratio=statistics.median(ratios),
                         ratio_p25=_quantile(ratios, 0.25), ratio_p75=_quantile(ratios, 0.75),
                         samples=times[name], wall_seconds=statistics.median(walls[name]),
                         cpu_seconds=statistics.median(cpus[name]))
    return out


def same_round(figure: Callable[..., float], *samples: list[float]) -> dict[str, float]:
    """The median and spread over rounds of `figure(a_i, b_i, ...)` on same-round samples:
    ``same_round(lambda ours, peer, raw: (ours - raw) / (peer - raw), *samples)`` compares two
    costs over a shared baseline round by round."""
    values = [figure(*row) for row in zip(*samples)]
    return dict(median=statistics.median(values), p25=_quantile(values, 0.25), p75=_quantile(values, 0.75))


def timeit(function: Callable[[], Any], number: int, repeat: int = 7) -> float:
    """Wall seconds per call of one function alone: the median of `repeat` runs of `number` calls.

    Use `compare` whenever a figure is a comparison.
    """
    return statistics.median(_once(function, number)[0] for _ in range(repeat))


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[str(row.get(column, '')) for column in columns] for row in rows]
    widths = [max(len(column), *(len(cell[i]) for cell in cells)) for i, column in enumerate(columns)]
    line = lambda values: '  '.join(value.rjust(width) for value, width in zip(values, widths))  # noqa: E731
    return '\n'.join([line(columns), line(['-' * width for width in widths])] + [line(cell) for cell in cells])


def write(name: str, rows: list[dict[str, Any]], **extra: Any) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f'{name}.json'
    payload = dict(benchmark=name, time=time.strftime('%Y-%m-%dT%H:%M:%S'), conditions=conditions(), rows=rows,
                   **extra)
    path.write_text(json.dumps(payload, indent=2) + '\n')
    return path
