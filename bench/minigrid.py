"""The MiniGrid / BabyAI targets: an example run once per seed, two processes at a time, then aggregated.

    python bench/minigrid.py [--example minigrid_caption] [--seeds 0 1 2] [--parallel 2] [-- EXAMPLE FLAGS]
    python bench/minigrid.py --collect runs/bench_minigrid/MiniGrid-GoToObject-6x6-N2-v0   # aggregate only

Each seed is one process (`examples/<example>.py --seed S --out <dir>/seed<S>`,
TensorFlow on one thread, the budget in process CPU seconds). The rows of
each seed's ``results.json`` (success, mean reward, length, steps, CPU and
wall seconds, load average) and their median go to
bench/results/<example>-<env>.json; the last seed's learning curve is copied
next to it as a PNG.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run_seeds(example: str, seeds: list[int], parallel: int, out: Path, flags: list[str]) -> None:
    pending = list(seeds)
    running: list[subprocess.Popen] = []
    while pending or running:
        while pending and len(running) < parallel:
            seed = pending.pop(0)
            log = open(out / f'seed{seed}.log', 'w')  # noqa: SIM115 - closed with the process
            running.append(subprocess.Popen(
                [sys.executable, str(ROOT / 'examples' / f'{example}.py'), '--seed', str(seed),
                 '--out', str(out / f'seed{seed}'), *flags], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
        running[0].wait()
        if running[0].returncode:
            raise SystemExit(f'{running[0].args} failed ({running[0].returncode}); see its log in {out}')
        running.pop(0)


def collect(example: str, out: Path) -> Path:
    rows = []
    for path in sorted(out.glob('seed*/results.json')):
        result = json.loads(path.read_text())
        curve = result.pop('curve')
        first = next((t for t, value in curve if value >= 0.9), None)
        rows.append(dict(result, first_step_mean_return_of_10_at_least_0_9=first))
    if not rows:
        raise SystemExit(f'no seed*/results.json under {out}')
    median = {key: statistics.median(row['ppo'][key] for row in rows) for key in ('success', 'reward', 'length')}
    name = f"{example}-{rows[0]['env']}"
    path = write(name, rows, median=median, note='budget in process CPU seconds of one single-threaded process '
                                                  '(the quiet-machine equivalent of wall time); wall seconds and '
                                                  'load average are per row')
    curve = out / f"seed{rows[-1]['seed']}" / 'learning_curve.png'
    if curve.exists():
        shutil.copy(curve, RESULTS / f'{name}.png')
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--example', default='minigrid_caption', choices=('minigrid_caption', 'babyai'))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--parallel', type=int, default=2)
    parser.add_argument('--collect', type=Path, help='only aggregate the seed*/results.json under this folder')
    parser.add_argument('flags', nargs='*', help='passed to the example (after --)')
    args = parser.parse_args()
    if args.collect is not None:
        print(collect(args.example, args.collect))
        return
    env = next((args.flags[i + 1] for i, flag in enumerate(args.flags[:-1]) if flag == '--env'), 'default')
    out = ROOT / 'runs' / 'bench_minigrid' / f'{args.example}-{env}'
    out.mkdir(parents=True, exist_ok=True)
    run_seeds(args.example, args.seeds, args.parallel, out, args.flags)
    print(collect(args.example, out))


if __name__ == '__main__':
    main()
