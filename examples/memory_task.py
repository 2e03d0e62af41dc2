"""A task that needs memory: the caption is shown once, before the room appears.

    python examples/memory_task.py [--cpu-seconds 600] [--seeds 0 1 2] [--baseline-seeds 0] [--jobs 2]
                                   [--envs 16] [--episodes 200] [--out docs/memory_task.png]
                                   [--json bench/results/memory_task.json]

`modalbridge/CaptionRoomMemory-v0` (4x4 room, K = 3 objects) starts each
episode with a cue: the caption over a black image, then one black
observation with an empty caption, the actions on both changing nothing;
then the room appears without the caption. A memoryless agent cannot beat
the caption-blind rate 1/K there (the argument is in
`modalbridge.envs.caption_room`). The same PPO agent (the 'auto' network: a
convolution per grid cell, embedding + LSTM on the caption's tokens, FiLM)
is trained with ``rnn=64, rnn_at='context'`` (an LSTM core on the caption's
encoding, whose output modulates every frame: the caption seen once is kept)
and without it, for a budget of process CPU-seconds per run (each run one
process with TensorFlow, NumPy and OpenCV on one thread: the quiet-machine
equivalent of wall time on a shared machine); every agent is then evaluated
on fresh episodes, sampling its actions. The recurrent agent drives its own
state in the evaluation, TensorForce-style::

    internals = agent.initial_internals()
    actions, internals = agent.act(states, internals=internals, independent=True)

It prints a table, writes the learning curves (success of the last 200
training episodes vs CPU-seconds, each run) to a PNG and the runs to JSON
(each run as it ends; ``--from-json`` redraws the table and PNG from it).

Measured (``--cpu-seconds 300``, the README's table): with the LSTM core
91.0%, 92.0% and 89.5% (seeds 0-2), without it 23.0% (1/K = 33.3%).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import multiprocessing
import os
import time
from pathlib import Path

import cv2
import numpy as np

from modalbridge.agents import PPO
from modalbridge.bridges import GymBridge, VectorEnvironment
from modalbridge.envs import MEMORY_ID, MEMORY_KWARGS, CaptionRoom

AGENT = dict(n_steps=32, batch_size=256, epochs=4, learning_rate=1e-3, entropy_coef=0.01, discount=0.99,
             gae_lambda=0.95, shared_network=True)
SHAPING = 0.1  # potential-based (keeps the optimal policy): a learning signal on every step
THREADS = dict(TF_NUM_INTRAOP_THREADS='1', TF_NUM_INTEROP_THREADS='1', OMP_NUM_THREADS='1')


def environment(**overrides) -> GymBridge:
    return GymBridge(MEMORY_ID, shaping=SHAPING, **overrides)


def make_agent(env, memory: bool, seed: int, envs: int, **overrides) -> PPO:
    network = dict(type='auto', patch=5, rnn=64, rnn_at='context') if memory else dict(type='auto', patch=5)
    preprocessing = dict(image=[dict(type='normalize')],
                         caption=[dict(type='tokenize', length=6, vocabulary=CaptionRoom().vocabulary)])
    options = dict(AGENT, **overrides)
    options['batch_size'] = min(options['batch_size'], options['n_steps'] * envs)
    return PPO(env.states, env.actions, network=network, preprocessing=preprocessing, num_envs=envs, seed=seed,
               **options)


def one_thread() -> None:
    """TensorFlow and OpenCV on one thread (the process's CPU time then reads as a quiet machine's wall time)."""
    import tensorflow as tf
    cv2.setNumThreads(1)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this process (a second run): set before, or left as it is
        pass


def success_rate(agent: PPO, episodes: int, seed: int, room: dict | None = None) -> float:
    single, successes = environment(**(room or {})), 0
    for episode in range(episodes):
        states, internals, done = single.reset(seed=seed + episode), agent.initial_internals(), False
        while not done:
            actions, internals = agent.act(states, internals=internals, independent=True)
            step = single.execute(actions)
            states, done = step.states, bool(step.terminal)
        successes += bool(step.info.get('success'))
    return successes / episodes


def run(memory: bool, seed: int, cpu_seconds: float, envs: int = 16, episodes: int = 200,
        steps: int = 10_000_000, room: dict | None = None, agent: dict | None = None) -> dict:
    """Trains one agent for `cpu_seconds` of this process's CPU time (or `steps`), then evaluates it
    (`room`: keywords overriding the registered setting, for both; `agent`: overriding `AGENT`)."""
    one_thread()
    env = VectorEnvironment([environment(**(room or {})) for _ in range(envs)])
    agent = make_agent(env, memory, seed, envs, **(agent or {}))
    recent = collections.deque(maxlen=200)  # success of the last training episodes
    curve, update_cpu = [], 0.0
    states, cpu0, wall0 = env.reset(seed=seed), time.process_time(), time.perf_counter()
    while time.process_time() - cpu0 < cpu_seconds and agent.timesteps < steps:
        step = env.execute(agent.act(states))
        before = time.process_time()
        if agent.observe(step.reward, step.terminal, final_states=step.info.get('final_states')):
            update_cpu += time.process_time() - before
            if recent:
                curve.append((round(time.process_time() - cpu0, 2), agent.timesteps, float(np.mean(recent))))
        recent.extend(bool(info.get('success')) for info, end in zip(step.info['infos'], step.terminal) if end)
        states = step.states
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    env.close()
    return dict(memory=memory, seed=seed, steps=agent.timesteps, cpu_seconds=round(cpu, 1),
                wall_seconds=round(wall, 1), steps_per_cpu_second=round(agent.timesteps / cpu, 1),
                update_cpu_seconds=round(update_cpu, 1), load_average=[round(x, 2) for x in os.getloadavg()],
                success=success_rate(agent, episodes, 1_000_000, room), episodes=episodes, curve=curve)


def plot(path: str, runs: list[dict], blind: float) -> None:
    """Success vs CPU-seconds, one line per run (blue: recurrent, red: memoryless), the blind rate dashed."""
    width, height, left, right, top, bottom = 800, 480, 70, 20, 40, 50
    image = np.full((height, width, 3), 255, np.uint8)
    x_high = max(max((c[0] for r in runs for c in r['curve']), default=1.0), 1.0)
    font = cv2.FONT_HERSHEY_SIMPLEX

    def pixel(x: float, y: float) -> tuple[int, int]:
        return (round(left + x / x_high * (width - left - right)), round(height - bottom - y * (height - top - bottom)))

    for y in np.linspace(0, 1, 6):
        cv2.line(image, pixel(0, y), pixel(x_high, y), (230, 230, 230), 1)
        cv2.putText(image, f'{100 * y:.0f}%', (15, pixel(0, y)[1] + 5), font, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
    for x in np.linspace(0, x_high, 6):
        cv2.putText(image, f'{x:.0f}', (pixel(x, 0)[0] - 12, height - bottom + 20), font, 0.45, (60, 60, 60), 1,
                    cv2.LINE_AA)
    for x in np.arange(0, x_high, 12):  # the caption-blind rate, dashed
        cv2.line(image, pixel(x, blind), pixel(min(x + 6, x_high), blind), (120, 120, 120), 1)
    cv2.rectangle(image, (left, top), (width - right, height - bottom), (0, 0, 0), 1)
    for r in runs:
        points = np.array([pixel(x, y) for x, _, y in r['curve']], np.int32)
        if len(points):
            colour = (200, 90, 20) if r['memory'] else (40, 40, 220)
            cv2.polylines(image, [points.reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
    cv2.putText(image, 'CaptionRoomMemory-v0: success of the last 200 training episodes', (left, 25), font, 0.55,
                (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, 'process CPU-seconds (one thread)', (width // 2 - 120, height - 10), font, 0.5, (0, 0, 0), 1,
                cv2.LINE_AA)
    cv2.putText(image, 'blue: PPO + LSTM core, red: PPO without memory, dashed: 1/K', (left + 10, top + 20), font,
                0.45, (60, 60, 60), 1, cv2.LINE_AA)
    if not cv2.imwrite(path, image):
        raise OSError(f'OpenCV could not write {path!r}')


def write(args: argparse.Namespace, runs: list[dict]) -> None:
    """The runs so far as JSON (`--json`), their curves thinned to about 100 points."""
    if not args.json:
        return
    Path(args.json).write_text(json.dumps(dict(
        environment=dict(id=MEMORY_ID, **MEMORY_KWARGS, shaping=SHAPING), agent=AGENT, envs=args.envs,
        cpu_seconds_budget=args.cpu_seconds,
        note='one process per run, TensorFlow/NumPy/OpenCV on one thread; cpu_seconds is the process CPU '
             'time (the quiet-machine equivalent of wall time), beside the wall time and the load average',
        runs=[dict(r, curve=r['curve'][::max(1, len(r['curve']) // 100)]) for r in runs]), indent=1) + '\n')


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description='recurrent vs memoryless PPO on CaptionRoomMemory-v0')
    parser.add_argument('--cpu-seconds', type=float, default=600.0, help='training budget per run (process CPU)')
    parser.add_argument('--steps', type=int, default=10_000_000, help='training steps per run, at most')
    parser.add_argument('--seeds', type=int, nargs='*', default=[0, 1, 2], help='recurrent runs')
    parser.add_argument('--baseline-seeds', type=int, nargs='*', default=[0], help='runs without memory')
    parser.add_argument('--jobs', type=int, default=2, help='runs at a time, each its own process')
    parser.add_argument('--envs', type=int, default=16)
    parser.add_argument('--episodes', type=int, default=200, help='evaluation episodes per run')
    parser.add_argument('--out', default='memory_task.png', help='learning-curve PNG')
    parser.add_argument('--json', default=None, help='also write the runs to this JSON file')
    parser.add_argument('--from-json', default=None, help='train nothing: the table and PNG of runs written before')
    args = parser.parse_args(argv)
    if min(args.steps, args.envs, args.episodes, args.jobs) < 1 or args.cpu_seconds <= 0:
        parser.error('--cpu-seconds, --steps, --envs, --episodes and --jobs must be positive')
    if not args.out.lower().endswith('.png'):
        parser.error(f'--out must end with .png; received {args.out!r}')

    recurrent = [(True, seed) for seed in args.seeds]
    baseline = [(False, seed) for seed in args.baseline_seeds]
    order = recurrent[:1] + baseline[:1] + recurrent[1:] + baseline[1:]  # the first pair compares at once
    jobs = [(memory, seed, args.cpu_seconds, args.envs, args.episodes, args.steps) for memory, seed in order]
    runs: list[dict] = []
    if args.from_json:
        runs = json.loads(Path(args.from_json).read_text())['runs']
    elif args.jobs == 1:
        for job in jobs:
            runs.append(run(*job))
            write(args, runs)
    else:  # independent single-threaded processes, at most `--jobs` at a time; each run saved as it ends
        os.environ.update(THREADS)
        context = multiprocessing.get_context('spawn')
        with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context, max_tasks_per_child=1) as pool:
            for future in concurrent.futures.as_completed([pool.submit(run, *job) for job in jobs]):
                runs.append(future.result())
                write(args, runs)
    runs.sort(key=lambda r: (not r['memory'], r['seed']))
    blind = 1 / MEMORY_KWARGS['num_objects']
    print(f"{'agent':28s} seed    steps  CPU-s  wall-s  steps/CPU-s  update steps/CPU-s  success")
    for r in runs:
        name = 'PPO + LSTM core (context)' if r['memory'] else 'PPO without memory'
        print(f"{name:28s} {r['seed']:4d} {r['steps']:8d} {r['cpu_seconds']:6.0f} {r['wall_seconds']:7.0f} "
              f"{r['steps_per_cpu_second']:12.0f} {r['steps'] / max(r['update_cpu_seconds'], 1e-9):19.0f} "
              f"{100 * r['success']:7.1f}%")
    print(f"caption-blind rate 1/K = {100 * blind:.1f}%; success over {runs[0]['episodes']} fresh episodes per run")
    plot(args.out, runs, blind)
    print(f'wrote {args.out}')
    if args.json and not args.from_json:
        write(args, runs)
        print(f'wrote {args.json}')
    return runs


if __name__ == '__main__':
    main()
