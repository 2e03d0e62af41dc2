"""Environment steps per second: in-process vs worker processes.

    python bench/vector.py [--seconds 3] [--envs 32] [--pong]

The demo environment (CaptionRoom, through GymBridge) and CartPole-v1, each
with `--envs` environments, stepped with random actions (episodes end and
reset inside the measurement); ALE Pong (pixels, `atari` extra) with
`--pong`. Worker processes hold several environments each (one worker per
core) and return observations through shared memory. One run; writes
bench/results/vector.json. Timings on a shared machine are only indicative.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, write  # noqa: E402

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


def steps_per_second(factory, num_envs: int, processes: bool, seconds: float) -> float:
    envs = VectorEnvironment([factory] * num_envs, processes=True) if processes else \
        VectorEnvironment([factory() for _ in range(num_envs)])
    try:
        envs.reset(seed=0)
        rng = np.random.default_rng(0)
        batches = [{name: np.stack([specs.sample(spec, rng) for _ in range(num_envs)])
                    for name, spec in envs.actions.items()} for _ in range(64)]
        for index in range(5):
            envs.execute(batches[index])
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            envs.execute(batches[steps // num_envs % len(batches)])
            steps += num_envs
        return steps / (time.perf_counter() - start)
    finally:
        envs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=3.0)
    parser.add_argument('--envs', type=int, default=32)
    parser.add_argument('--pong', action='store_true', help='also ALE Pong (needs the atari extra)')
    args = parser.parse_args()
    environments = [('CaptionRoom', caption_room), ('CartPole-v1', cartpole)] + \
        ([('ALE/Pong-v5', pong)] if args.pong else [])
    rows = []
    for env_name, factory in environments:
        local = steps_per_second(factory, args.envs, False, args.seconds)
        remote = steps_per_second(factory, args.envs, True, args.seconds)
        rows.append(dict(env=env_name, envs=args.envs, workers=min(args.envs, os.cpu_count() or 1),
                         in_process=round(local), processes=round(remote), ratio=round(remote / local, 2)))
    print(table(rows, ['env', 'envs', 'workers', 'in_process', 'processes', 'ratio']))
    print('wrote', write('vector', rows, seconds=args.seconds))


if __name__ == '__main__':
    main()
