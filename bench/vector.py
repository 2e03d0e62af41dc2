"""Environment steps per second: in-process vs worker processes, interleaved.

    python bench/vector.py [--rounds 9] [--envs 32] [--pong]

The demo environment (CaptionRoom, through GymBridge) and CartPole-v1, each
with `--envs` environments, stepped with random actions (episodes end and
reset inside the measurement); ALE Pong (pixels, `atari` extra) with
`--pong`. Worker processes (one per core) hold several environments each
and return observations through shared memory. The two ways are stepped
in the same rounds, in a rotating order; the ratio is the median of
same-round ratios (processes / in-process time per step) with its spread.
Threads are capped at one per library; the processes are not pinned (they
need the cores). Writes bench/results/vector.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, pin, table, write  # noqa: E402

pin(core=None)

import numpy as np  # noqa: E402

from modalbridge.bridges import GymBridge, VectorEnvironment, specs  # noqa: E402
from modalbridge.envs import ID  # noqa: E402


def caption_room() -> GymBridge:
    return GymBridge(ID)


def cartpole() -> GymBridge:
    return GymBridge('CartPole-v1')


def pong() -> GymBridge:
    import ale_py
    import gymnasium
    gymnasium.register_envs(ale_py)
    return GymBridge('ALE/Pong-v5')


def stepper(envs: VectorEnvironment, num_envs: int):
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    batches = [{name: np.stack([specs.sample(spec, rng) for _ in range(num_envs)])
                for name, spec in envs.actions.items()} for _ in range(64)]
    counter = iter(range(10 ** 9))
    return lambda: envs.execute(batches[next(counter) % len(batches)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=9)
    parser.add_argument('--number', type=int, default=50, help='batched steps per round and variant')
    parser.add_argument('--envs', type=int, default=32)
    parser.add_argument('--pong', action='store_true', help='also ALE Pong (needs the atari extra)')
    args = parser.parse_args()
    environments = [('CaptionRoom', caption_room), ('CartPole-v1', cartpole)] + \
        ([('ALE/Pong-v5', pong)] if args.pong else [])
    rows = []
    for env_name, factory in environments:
        local = VectorEnvironment([factory() for _ in range(args.envs)])
        remote = VectorEnvironment([factory] * args.envs, processes=True)
        try:
            result = compare({'in_process': stepper(local, args.envs), 'processes': stepper(remote, args.envs)},
                             number=args.number, rounds=args.rounds)
        finally:
            local.close()
            remote.close()
        rows.append(dict(env=env_name, envs=args.envs, workers=min(args.envs, os.cpu_count() or 1),
                         in_process=round(args.envs / result['in_process']['seconds']),
                         processes=round(args.envs / result['processes']['seconds']),
                         time_ratio=round(result['processes']['ratio'], 2),
                         spread=f"[{result['processes']['ratio_p25']:.2f}, {result['processes']['ratio_p75']:.2f}]"))
    print(table(rows, ['env', 'envs', 'workers', 'in_process', 'processes', 'time_ratio', 'spread']))
    print('steps/s columns: medians over rounds; time_ratio: processes / in-process time per step')
    print('wrote', write('vector', rows, rounds=args.rounds, number=args.number))


if __name__ == '__main__':
    main()
