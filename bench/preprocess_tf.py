"""The TF backend against the NumPy backend on the Atari stack, per frame, interleaved.

    python bench/preprocess_tf.py [--rounds 15] [--threads 1] [--envs 8 64]

On stored Pong frames (ale-py), the stack of `bench/preprocess.py`
(grayscale, 84x84 area resize, normalize, 4-frame sequence) at 8 and 64
environments: our NumPy backend, our TF backend without XLA (``tf``) and
with it (``tf+xla``), every variant once per round in a rotating order;
``tf, gray+resize only`` (the stack's first two steps, no XLA: TF's area
kernel) shows the floor of the path without XLA. Each comparison runs
twice: in wall time and in this process's CPU time (all its threads:
TF's pool threads included), which leaves out the time other processes
hold the cores, the quiet-machine equivalent.
``--threads 1`` pins the process to one core with one thread for TF,
NumPy and OpenCV alike; ``--threads 2`` gives each two (unpinned). The
figure is the median of same-round ratios to the NumPy backend with its
25th-75th percentile spread (target at 64 envs: <= 1.0). Conditions
(load average, threads, affinity) go into
bench/results/preprocess-tf[-threadsN].json. The NumPy rows of
`bench/preprocess.py` are unchanged by this script.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, pin, table, write  # noqa: E402


CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def gray_resize_call(frames, num_envs: int):
    import numpy as np
    from modalbridge.preprocess import Stack
    from preprocess import ATARI, FRAME
    stack = Stack(dict(image=FRAME), ATARI[:2], num_envs=num_envs)
    batches = [frames[np.arange(i, i + num_envs) % len(frames)] for i in range(4)]
    counter = iter(range(10 ** 9))
    call = lambda: stack(dict(image=batches[next(counter) % 4]))  # noqa: E731
    call()
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--envs', type=int, nargs='+', default=[8, 64])
    parser.add_argument('--name', default='', help='a suffix for the JSON file name')
    args = parser.parse_args()
    pin(core=0 if args.threads == 1 else None, threads=args.threads)
    import cv2
    cv2.setNumThreads(args.threads)
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from preprocess import pong_frames, stack_call

    frames = pong_frames(256)
    rows, figures = [], {}
    for n in args.envs:
        variants = {'numpy': stack_call(frames, 'numpy', n), 'tf': stack_call(frames, 'tf', n),
                    'tf+xla': stack_call(frames, 'tf', n, jit=True),
                    'tf, gray+resize only': gray_resize_call(frames, n)}
        for clock_name in CLOCKS:
            result = compare(variants, number=max(2, 256 // n), rounds=args.rounds, clock=clock_name)
            for name, value in result.items():
                figures[f'{name}_{n}_vs_numpy, {clock_name}'] = dict(
                    median=value['ratio'], p25=value['ratio_p25'], p75=value['ratio_p75'])
                rows.append(dict(envs=n, clock=clock_name, pipeline=name,
                                 us_per_frame=round(value['seconds'] / n * 1e6, 1),
                                 ratio_to_numpy=round(value['ratio'], 3),
                                 ratio_p25_p75=f"{value['ratio_p25']:.3f}-{value['ratio_p75']:.3f}"))
    print(table(rows, ['envs', 'clock', 'pipeline', 'us_per_frame', 'ratio_to_numpy', 'ratio_p25_p75']))
    print('target: tf at 64 envs <= 1.0x the NumPy backend per frame')
    name = 'preprocess-tf' + (f'-threads{args.threads}' if args.threads != 1 else '')
    if args.name:
        name += '-' + args.name
    # glibc's malloc returns large blocks to the system and faults them back in; its settings and TF's
    # BFC allocator for the CPU change the TF rows a lot (see the README): part of the conditions.
    allocator = {key: value for key, value in os.environ.items()
                 if key.startswith('MALLOC_') or key.startswith('TF_CPU_ALLOCATOR') or key.startswith('TF_CPU_BFC')}
    print('wrote', write(name, rows, figures=figures, rounds=args.rounds, threads=args.threads, allocator=allocator,
                         clocks='wall: time.perf_counter; cpu: time.process_time (this process, all its threads)'))


if __name__ == '__main__':
    main()
