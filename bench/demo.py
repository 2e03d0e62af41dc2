"""`make demo`'s training budget, measured: the demo's run for BUDGET process CPU-seconds per seed.

    python bench/demo.py [--budget 120] [--seeds 0 1 2] [--parallel 2] [--episodes 300]

Each seed is one process: TensorFlow, NumPy and OpenCV on one thread, the
demo's `DEFAULT_CONFIG` (examples/image_caption.py) trained until its
process CPU time reaches the budget (the quiet-machine equivalent of wall
time on a shared machine; `make demo` itself stops on wall time), then the
demo's evaluation: success with the true captions, with swapped ones, and
of a random agent, on the same fresh episodes (sampled actions). Rows go to
bench/results/demo.json with steps, steps per CPU-second, wall seconds and
the load average.
"""

from __future__ import annotations

import os

for _variable in ('TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'OMP_NUM_THREADS'):
    os.environ[_variable] = '1'  # one thread: the budget is one process's CPU time

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def demo_module():
    spec = importlib.util.spec_from_file_location('image_caption', ROOT / 'examples' / 'image_caption.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_seed(seed: int, budget: float, episodes: int) -> dict:
    import cv2

    cv2.setNumThreads(1)
    from modalbridge import cli
    from modalbridge.agents import RandomAgent, Runner
    from modalbridge.agents.create import create
    from modalbridge.bridges import VectorEnvironment

    demo = demo_module()
    config = demo.load_config(None, dict(seed=seed))
    envs = VectorEnvironment([cli.make_env(config.environment, False) for _ in range(config.envs)])
    agent = create(config.agent_declaration(), envs, seed=config.seed)
    runner = Runner(agent, envs, seed=config.seed)
    cpu, wall = time.process_time(), time.perf_counter()
    deadline = cpu + budget
    history = runner.run(timesteps=config.steps, progress=False, callback=lambda _: time.process_time() < deadline)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    envs.close()
    first = {threshold: next((t for t, value in history.curve if value >= threshold), None) for threshold in (1.0, 1.2)}
    evaluation_seed = 1_000_000 + config.seed * 10_000  # the demo's
    env = demo.make_env(config)
    rows = dict(true=demo.evaluate(config, agent, False, evaluation_seed, episodes),
                swapped=demo.evaluate(config, agent, True, evaluation_seed, episodes),
                random=demo.evaluate(config, RandomAgent(env.states, env.actions, seed=config.seed), False,
                                     evaluation_seed, episodes))
    return dict(seed=seed, agent=config.agent['agent'], envs=config.envs, steps=runner.timesteps,
                cpu_seconds=round(cpu, 1), wall_seconds=round(wall, 1), load_average=round(os.getloadavg()[0], 2),
                steps_per_cpu_second=round(runner.timesteps / cpu), episodes=episodes,
                first_step_mean_return_of_10_at_least_1_0=first[1.0],
                first_step_mean_return_of_10_at_least_1_2=first[1.2],
                **{name: round(row['success'], 4) for name, row in rows.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--budget', type=float, default=120.0, help='process CPU seconds of training per seed')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--parallel', type=int, default=2)
    parser.add_argument('--episodes', type=int, default=300)
    parser.add_argument('--worker', type=int, help=argparse.SUPPRESS)  # one seed, its row printed as JSON
    args = parser.parse_args()
    if args.worker is not None:
        print('ROW ' + json.dumps(one_seed(args.worker, args.budget, args.episodes)), flush=True)
        return
    pending, running, rows = list(args.seeds), [], []
    while pending or running:
        while pending and len(running) < args.parallel:
            running.append(subprocess.Popen(
                [sys.executable, __file__, '--worker', str(pending.pop(0)), '--budget', str(args.budget),
                 '--episodes', str(args.episodes)], stdout=subprocess.PIPE, text=True))
        process = running.pop(0)
        out, _ = process.communicate()
        if process.returncode:
            raise SystemExit(f'{process.args} failed ({process.returncode})')
        rows.append(json.loads(next(line for line in out.splitlines() if line.startswith('ROW '))[4:]))
        print(rows[-1], flush=True)
    path = write('demo', sorted(rows, key=lambda row: row['seed']), budget_cpu_seconds=args.budget,
                 note='budget in process CPU seconds of one single-threaded process (TF/OMP/cv2 one thread), the '
                      'quiet-machine equivalent of wall time; wall seconds and load average are per row; success '
                      'on the same fresh episodes, sampled actions')
    print(path)


if __name__ == '__main__':
    main()
