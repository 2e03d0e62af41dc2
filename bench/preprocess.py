"""The Atari stack per frame, ours vs Gymnasium's wrappers vs hand-written OpenCV.

    python bench/preprocess.py [--frames 200]

On real Pong frames (ale-py), single thread and two threads (each in its own
process), one run: Gymnasium's AtariPreprocessing + FrameStackObservation
(their cost over the raw step), a hand-written OpenCV pipeline, our NumPy
backend, our TF backend per frame and batched at 8, 64 and 256 envs, with
and without XLA, and the TF per-call overhead vs a trivial tf.function.
Writes bench/results/preprocess.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, timeit, write  # noqa: E402

ATARI = [dict(type='grayscale'), dict(type='image_resize', height=84, width=84),
         dict(type='normalize'), dict(type='sequence', length=4)]
FRAME = dict(type='int', shape=(210, 160, 3), min_value=0, max_value=255, dtype='uint8')


def pong_frames(count: int) -> np.ndarray:
    import ale_py
    import gymnasium
    gymnasium.register_envs(ale_py)
    env = gymnasium.make('ALE/Pong-v5', frameskip=1, repeat_action_probability=0.0)
    frame, _ = env.reset(seed=0)
    frames = [frame]
    while len(frames) < count:
        frame, _, terminated, truncated, _ = env.step(env.action_space.sample())
        frames.append(frame)
    return np.stack(frames)


def gymnasium_overhead(steps: int) -> float:
    import ale_py
    import gymnasium
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation
    gymnasium.register_envs(ale_py)
    make = lambda: gymnasium.make('ALE/Pong-v5', frameskip=1, repeat_action_probability=0.0)  # noqa: E731
    costs = []
    for env in (make(), FrameStackObservation(AtariPreprocessing(make(), frame_skip=1, noop_max=0, screen_size=84,
                                                                 grayscale_obs=True, scale_obs=True), 4)):
        env.reset(seed=0)
        costs.append(timeit(lambda: env.step(0), steps))
    return costs[1] - costs[0]


def opencv_pipeline(frames: np.ndarray):
    """What one would write by hand: gray, area resize, a ring of 4 uint8 frames, stacked and scaled."""
    import cv2
    ring = [np.zeros((84, 84), np.uint8)] * 4
    index = iter(range(10 ** 9))

    def run():
        frame = frames[next(index) % len(frames)]
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        ring.append(cv2.resize(gray, (84, 84), interpolation=cv2.INTER_AREA))
        del ring[0]
        return np.stack(ring, axis=-1).astype(np.float32) / np.float32(255)
    return run


def stack_per_frame(frames: np.ndarray, backend: str, num_envs: int, jit: bool = False):
    from modalbridge.preprocess import Stack
    stack = Stack(dict(image=FRAME), ATARI, num_envs=num_envs, backend=backend, jit_compile=jit)
    batches = [frames[np.arange(i, i + num_envs) % len(frames)] for i in range(4)]
    counter = iter(range(10 ** 9))
    call = lambda: stack(dict(image=batches[next(counter) % 4]))  # noqa: E731
    call()
    return call


def worker(threads: int, frame_count: int) -> list[dict]:
    os.environ['TF_NUM_INTEROP_THREADS'] = str(threads)
    os.environ['TF_NUM_INTRAOP_THREADS'] = str(threads)
    import cv2
    cv2.setNumThreads(threads)
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    frames = pong_frames(frame_count)
    rows = []

    def add(name, seconds_per_call, per_call_frames=1):
        rows.append(dict(threads=threads, pipeline=name, us_per_frame=round(seconds_per_call / per_call_frames * 1e6, 1)))

    add("gymnasium wrappers (over raw step)", gymnasium_overhead(frame_count))
    add('hand-written OpenCV', timeit(opencv_pipeline(frames), frame_count))
    add('ours, numpy backend', timeit(stack_per_frame(frames, 'numpy', 1), frame_count))
    add('ours, tf backend, 1 env', timeit(stack_per_frame(frames, 'tf', 1), frame_count // 2))
    for num_envs in (8, 64, 256):
        calls = max(3, frame_count // num_envs)
        add(f'ours, numpy backend, {num_envs} envs', timeit(stack_per_frame(frames, 'numpy', num_envs), calls), num_envs)
        add(f'ours, tf backend, {num_envs} envs', timeit(stack_per_frame(frames, 'tf', num_envs), calls), num_envs)
        add(f'ours, tf+XLA, {num_envs} envs', timeit(stack_per_frame(frames, 'tf', num_envs, jit=True), calls), num_envs)

    trivial = tf.function(lambda x: x + 1.0)
    vector = np.ones((1, 4), np.float32)
    trivial(vector)
    from modalbridge.preprocess import Stack
    small = Stack(dict(x=dict(type='float', shape=(4,))), ['center'])
    small(dict(x=vector))
    add('trivial tf.function call', timeit(lambda: trivial(vector), 2000))
    add("ours, tf call of ['center'] on (1, 4)", timeit(lambda: small(dict(x=vector)), 2000))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frames', type=int, default=200)
    parser.add_argument('--worker', type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.frames)))
        return
    rows = []
    for threads in (1, 2):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, '--worker', str(threads), '--frames', str(args.frames)],
                             capture_output=True, text=True, check=True)
        rows += json.loads(out.stdout.strip().splitlines()[-1])
        print(f'threads={threads}: measured in {time.perf_counter() - start:.0f} s', file=sys.stderr)
    ratios = []
    for threads in (1, 2):
        cost = {row['pipeline']: row['us_per_frame'] for row in rows if row['threads'] == threads}
        gym, numpy_1 = cost['gymnasium wrappers (over raw step)'], cost['ours, numpy backend']
        ratios.append(dict(
            threads=threads,
            numpy_vs_gymnasium=round(numpy_1 / gym, 2),
            tf64_vs_numpy=round(cost['ours, tf backend, 64 envs'] / cost['ours, numpy backend, 64 envs'], 2),
            tf64_vs_numpy_single=round(cost['ours, tf backend, 64 envs'] / numpy_1, 2),
            tf_call_vs_trivial=round(cost["ours, tf call of ['center'] on (1, 4)"] / cost['trivial tf.function call'], 2)))
    print(table(rows, ['threads', 'pipeline', 'us_per_frame']))
    print()
    print(table(ratios, list(ratios[0])))
    print('targets: numpy_vs_gymnasium <= 0.75, tf64_vs_numpy <= 1.0, tf_call_vs_trivial <= 1.5')
    print('wrote', write('preprocess', rows, ratios=ratios, frames=args.frames))


if __name__ == '__main__':
    main()
