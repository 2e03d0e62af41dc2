"""Replay memory: bytes for 100,000 Atari transitions, and sampling throughput.

    python bench/replay.py [--transitions 100000] [--parallel 8]

States are 84x84x4 uint8 frame stacks (the `sequence` preprocessor's
output). The memory stores each frame once, so it holds one 84x84 frame
per row (plus a final row per episode); naive storage keeps the state and
the next state, 2 x 4 frames per transition. Measured by the arrays'
`nbytes` and by the process's resident memory after every row was written
(the arrays are allocated lazily by the OS, so RSS counts touched pages).
Sampling: batches of 32 per second, uniform and prioritized, with the
frame stacks rebuilt. Writes bench/results/replay.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, timeit, write  # noqa: E402

from modalbridge.agents.replay import ReplayMemory  # noqa: E402

STATES = dict(image=dict(type='int', shape=(84, 84, 4), min_value=0, max_value=255, dtype='uint8'))
ACTIONS = dict(action=dict(type='int', num_values=6))
EPISODE = 1000  # steps per episode (each adds one final row)


def rss() -> int:
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    return 0


def fill(memory: ReplayMemory, transitions: int, parallel: int) -> None:
    rng = np.random.default_rng(0)
    states = dict(image=rng.integers(0, 256, (parallel, 84, 84, 4), dtype=np.uint8))
    actions = dict(action=np.zeros(parallel, np.int64))
    reward = np.ones(parallel, np.float32)
    for step in range(transitions // parallel):
        terminal = np.full(parallel, int(step % EPISODE == EPISODE - 1))
        memory.add(states, actions, reward, terminal, final_states=states)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--transitions', type=int, default=100_000)
    parser.add_argument('--parallel', type=int, default=8)
    args = parser.parse_args()
    naive = args.transitions * 84 * 84 * 4 * 2
    rows = []
    for prioritized in (False, True):
        before = rss()
        memory = ReplayMemory(STATES, ACTIONS, capacity=args.transitions, parallel=args.parallel,
                              frame_stacks=dict(image=4), prioritized=prioritized, seed=0)
        start = time.perf_counter()
        fill(memory, args.transitions, args.parallel)
        filled = time.perf_counter() - start
        resident = rss() - before
        per_call = timeit(lambda: memory.sample(32), number=200, repeat=5)
        rows.append(dict(prioritized=prioritized, transitions=args.transitions,
                         nbytes_MB=round(memory.nbytes / 1e6, 1), rss_MB=round(resident / 1e6, 1),
                         naive_MB=round(naive / 1e6, 1), fill_s=round(filled, 2),
                         batches_per_s=round(1 / per_call), us_per_batch=round(per_call * 1e6, 1)))
        del memory
    columns = ['prioritized', 'transitions', 'nbytes_MB', 'rss_MB', 'naive_MB', 'fill_s', 'batches_per_s',
               'us_per_batch']
    print(table(rows, columns))
    path = write('replay', rows, note='84x84x4 uint8 stacks, batches of 32; target <= 800 MB for 100k transitions',
                 parallel=args.parallel)
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
