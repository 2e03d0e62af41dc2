"""Act latency of a recurrent core vs the same network without it, in one interleaved run.

    python bench/recurrent.py [--rounds 15]

`PPO.act` + `observe` (the recording path: the core state goes in and out
of the one compiled step, reset per environment by `first`) at batch 1 and
32 on a 16-float state, with ``[dense 64, dense 64]`` vs ``[dense 64, lstm
64]``, timed by `common.compare` (every variant once per round, rotating).
Writes bench/results/recurrent.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, pin, write  # noqa: E402

pin()

from modalbridge.agents import PPO  # noqa: E402

STATE = dict(state=dict(type='float', shape=(16,)))
ACTION = dict(action=dict(type='int', num_values=4))
NETWORKS = dict(feed_forward=[dict(type='dense', size=64), dict(type='dense', size=64)],
                lstm=[dict(type='dense', size=64), dict(type='lstm', size=64)])


def stepper(network, batch: int):
    # n_steps larger than the calls timed (warm-up + rounds x 200): no update runs, this times acting only
    agent = PPO(STATE, ACTION, network=network, num_envs=batch, n_steps=3_200, batch_size=batch, seed=0,
                shared_network=True)
    states = dict(state=np.random.default_rng(0).normal(size=(batch, 16)).astype(np.float32))
    reward, terminal = np.zeros(batch), np.zeros(batch, np.int64)

    def step():
        agent.act(states)
        agent.observe(reward, terminal)
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=15, help='at most 15 (the buffer holds 3,200 acts)')
    args = parser.parse_args()
    if not 1 <= args.rounds <= 15:
        parser.error('--rounds must be 1..15')
    rows = []
    for batch in (1, 32):
        variants = {name: stepper(network, batch) for name, network in NETWORKS.items()}
        result = compare(variants, number=200, rounds=args.rounds, reference='feed_forward')
        for name, row in result.items():
            rows.append(dict(batch=batch, network=name, **row))
            print(f'batch {batch:2d}  {name:12s} {1e6 * row["seconds"]:7.0f} us per act+observe  '
                  f'ratio {row["ratio"]:.2f} ({row["ratio_p25"]:.2f}-{row["ratio_p75"]:.2f})', flush=True)
    write('recurrent', rows)


if __name__ == '__main__':
    main()
