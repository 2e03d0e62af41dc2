"""Ours vs Stable-Baselines3, same seeds, same core: CPU-time and wall-time ratios.

    python bench/peers.py [--seeds 3 | --seed-list 0,2] [--rows ppo_cartpole,a2c_cartpole,dqn_cartpole,td3_pendulum,ppo_pendulum]
                          [--core 0] [--sb3-python /work/sb3venv/bin/python] [--ppo-pendulum-budget 100000]
                          [--out peers] [--keep]          # --keep: add these rows to an existing results file
    python bench/peers.py --merge peers-a peers-b --out peers   # rows measured in separate runs (two cores)

The peer runs in its own virtual environment (never this project's
dependency, never in CI)::

    python3.11 -m venv /work/sb3venv
    /work/sb3venv/bin/python -m pip install torch stable-baselines3 gymnasium

Per row and seed, OUR run (this interpreter, `python bench/peers.py
--worker ...`) and SB3's run (bench/peers_sb3.py in the peer's interpreter)
are separate processes, started alternately in an order that rotates with
the seed, both pinned to the same core (`taskset`) with one thread per
library (TF/OMP variables; SB3 calls ``torch.set_num_threads(1)``). Each
side times only its training loop (from just before the first step, with
the agent and environments built and imports done, to the step where the
criterion is met or the budget ends) as process CPU time
(`time.process_time`, the quiet-machine equivalent of wall time while
other work shares the machine) and wall time.

Rows (settings: rl-baselines3-zoo's for SB3; our examples' for ours):

- ``ppo_cartpole``: PPO, CartPole-v1, 8 envs, to last-10 >= 475 (1e5 max);
- ``a2c_cartpole``: A2C, CartPole-v1, 8 envs, to last-10 >= 475 (5e5 max);
- ``dqn_cartpole``: DQN, CartPole-v1, to last-10 >= 475 (5e4 max);
- ``td3_pendulum``: TD3, Pendulum-v1, 30k steps; deterministic mean return on 10 fresh episodes;
- ``ppo_pendulum``: PPO, Pendulum-v1, 4 envs, the same budget on both sides; evaluated likewise.

"last-10" is the mean return of the last 10 finished TRAINING episodes,
checked after every step on both sides. The summary gives, per row, the
median over seeds of the same-seed ratios ours / SB3 of CPU and wall time
(to the criterion; for the budget rows, of the whole budget). Writes
bench/results/peers.json and prints a table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, THREAD_VARIABLES, conditions, table, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ROWS = ('ppo_cartpole', 'a2c_cartpole', 'dqn_cartpole', 'td3_pendulum', 'ppo_pendulum')
BUDGETS = dict(ppo_cartpole=100_000, a2c_cartpole=500_000, dqn_cartpole=50_000, td3_pendulum=30_000,
               ppo_pendulum=100_000)
TARGETS = dict(ppo_cartpole=0.7, a2c_cartpole=0.66, dqn_cartpole=1.0)  # ours / SB3, CPU time to the criterion


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f'example_{name}', ROOT / 'examples' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ours(task: str, seed: int, budget: int) -> dict:
    """Our side of one run (in its own process: see `main`)."""
    import numpy as np

    from modalbridge.agents import A2C, DQN, PPO, TD3, Runner
    from modalbridge.agents.evaluation import evaluate
    from modalbridge.bridges import GymBridge, VectorEnvironment

    if task == 'ppo_cartpole':
        env = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(8)])
        agent = PPO(env.states, env.actions, num_envs=8, seed=seed, **_example('cartpole_ppo').ZOO)
    elif task == 'a2c_cartpole':
        env = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(8)])
        agent = A2C(env.states, env.actions, num_envs=8, seed=seed, **_example('cartpole_a2c').SETTINGS)
    elif task == 'dqn_cartpole':
        env = GymBridge('CartPole-v1')
        example = _example('cartpole_dqn')
        agent = DQN(env.states, env.actions, seed=seed, **example.SETTINGS[example.DEFAULT])
    elif task == 'td3_pendulum':
        env = GymBridge('Pendulum-v1')
        agent = TD3(env.states, env.actions, seed=seed, **_example('pendulum_td3').CONFIG)
    elif task == 'ppo_pendulum':
        env = VectorEnvironment([GymBridge('Pendulum-v1') for _ in range(4)])
        agent = PPO(env.states, env.actions, num_envs=4, seed=seed, **_example('pendulum_ppo').ZOO)
    else:
        raise SystemExit(f'unknown task {task!r}')
    cartpole = task.endswith('cartpole')
    runner = Runner(agent, env, seed=seed)
    solved_at: dict = {}
    start = (time.process_time(), time.perf_counter())

    def criterion(runner: Runner) -> bool:
        if cartpole and runner.episodes >= 10 and np.mean(runner.episode_returns[-10:]) >= 475:
            solved_at.update(steps=runner.timesteps, cpu=time.process_time() - start[0],
                             wall=time.perf_counter() - start[1])
            return False
        return True

    history = runner.run(timesteps=budget, callback=criterion, progress=False)
    cpu, wall = time.process_time() - start[0], time.perf_counter() - start[1]
    row = dict(side='ours', task=task, seed=seed, steps=history.timesteps, cpu=cpu, wall=wall,
               last10=float(np.mean(history.episode_returns[-10:])) if history.episode_returns else None)
    if cartpole:
        row['solved'] = bool(solved_at)
        row.update(solved_at)
    else:
        # the deterministic policy on 10 fresh episodes (episode k reset with seed 10,000 + k, as peers_sb3.py)
        row['evaluation'] = float(np.mean(evaluate(agent, GymBridge('Pendulum-v1'), episodes=10, seed=10_000).returns))
    return row


def launch(side: str, task: str, seed: int, budget: int, core: int, sb3_python: str) -> dict:
    """One run in a fresh process pinned to `core`; its JSON row (or the failure)."""
    env = dict(os.environ, **{variable: '1' for variable in THREAD_VARIABLES}, TF_CPP_MIN_LOG_LEVEL='3')
    if side == 'ours':
        command = [sys.executable, str(Path(__file__).resolve()), '--worker', task, str(seed), str(budget)]
    else:
        command = [sb3_python, str(Path(__file__).resolve().parent / 'peers_sb3.py'), task, str(seed), str(budget)]
    command = ['taskset', '-c', str(core)] + command
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith('{')]
    if done.returncode or not lines:
        return dict(side=side, task=task, seed=seed, failed=done.stderr.strip().splitlines()[-5:])
    return json.loads(lines[-1])


def summarize(runs: list[dict], task: str) -> dict:
    pairs = {}
    for run in runs:
        if run['task'] == task and 'failed' not in run:
            pairs.setdefault(run['seed'], {})[run['side']] = run
    pairs = {seed: pair for seed, pair in pairs.items() if len(pair) == 2}
    out: dict = dict(seeds=sorted(pairs))
    for side in ('ours', 'sb3'):
        rows = [pair[side] for pair in pairs.values()]
        out[side] = dict(median_cpu=_median([r['cpu'] for r in rows]), median_wall=_median([r['wall'] for r in rows]),
                         median_steps=_median([r['steps'] for r in rows]))
        if task.endswith('cartpole'):
            out[side]['solved'] = [r['solved'] for r in rows]
        else:
            out[side]['evaluations'] = [round(r['evaluation'], 1) for r in rows]
            out[side]['median_evaluation'] = _median([r['evaluation'] for r in rows])
    out['cpu_ratio'] = _median([pair['ours']['cpu'] / pair['sb3']['cpu'] for pair in pairs.values()])
    out['wall_ratio'] = _median([pair['ours']['wall'] / pair['sb3']['wall'] for pair in pairs.values()])
    if task in TARGETS:
        out['target'] = TARGETS[task]
        both = [pair for pair in pairs.values() if pair['ours']['solved'] and pair['sb3']['solved']]
        # a run that did not solve has no time-to-criterion: the ratios are over the seeds both solved
        out['cpu_ratio'] = _median([p['ours']['cpu'] / p['sb3']['cpu'] for p in both])
        out['wall_ratio'] = _median([p['ours']['wall'] / p['sb3']['wall'] for p in both])
        out['seeds_both_solved'] = len(both)
        # where only ours solved, SB3's whole-budget time stands for its (longer) time to the criterion:
        # these ratios are upper bounds of the true ones
        ours_solved = [pair for pair in pairs.values() if pair['ours']['solved']]
        out['cpu_ratio_bound'] = _median([p['ours']['cpu'] / p['sb3']['cpu'] for p in ours_solved])
        out['wall_ratio_bound'] = _median([p['ours']['wall'] / p['sb3']['wall'] for p in ours_solved])
    return out


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--seed-list', default=None, help='comma-separated seeds instead of 0 .. --seeds - 1')
    parser.add_argument('--rows', default=','.join(ROWS))
    parser.add_argument('--core', type=int, default=0)
    parser.add_argument('--sb3-python', default='/work/sb3venv/bin/python')
    parser.add_argument('--ppo-pendulum-budget', type=int, default=BUDGETS['ppo_pendulum'])
    parser.add_argument('--out', default='peers', help='the results file name under bench/results/')
    parser.add_argument('--keep', action='store_true',
                        help="keep the other rows' runs of an existing results file (rows measured separately)")
    parser.add_argument('--merge', nargs='+', metavar='NAME',
                        help='only merge these results files (under bench/results/) into --out and summarize')
    parser.add_argument('--worker', nargs=3, metavar=('TASK', 'SEED', 'BUDGET'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        task, seed, budget = args.worker
        print(json.dumps(ours(task, int(seed), int(budget))))
        return
    if args.merge:
        files = [json.loads((RESULTS / f'{name}.json').read_text()) for name in args.merge]
        runs = [run for document in files for run in document['rows']]
        budgets = {task: budget for document in files for task, budget in document['budgets'].items()}
        summary = {task: summarize(runs, task) for task in ROWS if any(run['task'] == task for run in runs)}
        parts = {name: document['measured'] for name, document in zip(args.merge, files)}
        print('wrote', write(args.out, runs, summary=summary, budgets=budgets, measured=parts))
        return
    rows = [row for row in args.rows.split(',') if row]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown or args.seeds < 1:
        parser.error(f'--rows: unknown {unknown}; known {list(ROWS)}' if unknown else '--seeds must be positive')
    if not Path(args.sb3_python).exists():
        parser.error(f'--sb3-python {args.sb3_python!r} does not exist (see the module docstring)')
    budgets = dict(BUDGETS, ppo_pendulum=args.ppo_pendulum_budget)
    seeds = [int(seed) for seed in args.seed_list.split(',')] if args.seed_list else list(range(args.seeds))
    runs, load = [], []
    for task in rows:
        for seed in seeds:
            order = ('ours', 'sb3') if seed % 2 == 0 else ('sb3', 'ours')  # rotating order
            for side in order:
                load.append(os.getloadavg()[0])
                run = launch(side, task, seed, budgets[task], args.core, args.sb3_python)
                runs.append(run)
                print(json.dumps(run), flush=True)
    columns = ['task', 'seed', 'side', 'solved', 'steps', 'cpu', 'wall', 'last10', 'evaluation']
    shown = [{k: round(v, 1) if isinstance(v, float) else v for k, v in run.items()} for run in runs]
    print(table(shown, columns))
    measured = conditions()
    measured.update(affinity=[args.core], pinned='taskset -c, each run a fresh process',
                    load_average_during=dict(min=min(load), max=max(load), median=statistics.median(load)),
                    note='CPU time (time.process_time) is the quiet-machine equivalent of wall time; '
                         'the machine was shared with other work (see load_average_during)',
                    sb3_python=args.sb3_python)
    for run in runs:
        run['conditions'] = dict(core=args.core, load_average_during=measured['load_average_during'])
    previous = RESULTS / f'{args.out}.json'
    if args.keep and previous.exists():
        kept = json.loads(previous.read_text())
        runs = [run for run in kept['rows'] if run['task'] not in rows] + runs
        budgets = dict(kept.get('budgets', {}), **{task: budgets[task] for task in rows})
    summary = {task: summarize(runs, task) for task in ROWS if any(run['task'] == task for run in runs)}
    for task, figures in summary.items():
        print(f"{task}: CPU-time ratio ours/SB3 {figures['cpu_ratio']}, wall-time ratio {figures['wall_ratio']}"
              + (f" (target <= {figures['target']})" if 'target' in figures else ''))
    print('wrote', write(args.out, runs, summary=summary, budgets=budgets, measured=measured))


if __name__ == '__main__':
    main()
