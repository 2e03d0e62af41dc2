"""Environment steps per second: in-process vs worker processes, 1 to 8 environments.

    python bench/vector.py [--seconds 3]

On CartPole-v1 and ALE Pong (pixels, `atari` extra) through GymBridge, one
run; writes bench/results/vector.json and says where worker processes start
to pay off on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, write  # noqa: E402

from modalbridge.bridges import GymBridge, VectorEnvironment  # noqa: E402


def pong() -> GymBridge:
    import ale_py
    import gymnasium
    gymnasium.register_envs(ale_py)
    return GymBridge('ALE/Pong-v5')


def cartpole() -> GymBridge:
    return GymBridge('CartPole-v1')


def steps_per_second(factory, num_envs: int, processes: bool, seconds: float) -> float:
    envs = VectorEnvironment([factory for _ in range(num_envs)], processes=True) if processes else \
        VectorEnvironment([factory() for _ in range(num_envs)])
    try:
        envs.reset(seed=0)
        name, spec = next(iter(envs.actions.items()))
        actions = {name: np.zeros((num_envs,) + spec.shape, spec.dtype)}
        for _ in range(5):
            envs.execute(actions)
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            envs.execute(actions)
            steps += num_envs
        return steps / (time.perf_counter() - start)
    finally:
        envs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=3.0)
    args = parser.parse_args()
    rows = []
    for env_name, factory in (('CartPole-v1', cartpole), ('ALE/Pong-v5', pong)):
        for num_envs in (1, 2, 4, 8):
            local = steps_per_second(factory, num_envs, False, args.seconds)
            remote = steps_per_second(factory, num_envs, True, args.seconds)
            rows.append(dict(env=env_name, envs=num_envs, in_process=round(local), processes=round(remote),
                             ratio=round(remote / local, 2)))
    print(table(rows, ['env', 'envs', 'in_process', 'processes', 'ratio']))
    for env_name in ('CartPole-v1', 'ALE/Pong-v5'):
        paying = [row['envs'] for row in rows if row['env'] == env_name and row['ratio'] > 1.0]
        print(f'{env_name}: worker processes pay off from {paying[0]} environments' if paying
              else f'{env_name}: worker processes never pay off here (up to 8 environments)')
    print('wrote', write('vector', rows, seconds=args.seconds))


if __name__ == '__main__':
    main()
