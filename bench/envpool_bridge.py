"""EnvPool through our bridge vs raw EnvPool vs Gymnasium + our stack, interleaved.

    python bench/envpool_bridge.py [--envs 8] [--steps 50] [--rounds 11]

Pinned to one core (EnvPool with one thread). For Pong (EnvPool's Atari
preprocessing in C++: grayscale, 84x84 area resize, 4-frame stack, frame
skip 4) and BabyAI-GoToLocal (7x7x3 symbolic view, direction, mission text),
each round times `--steps` batched steps of random actions for:

- ``envpool``: raw EnvPool (its own next-step auto-reset);
- ``envpool, same-step reset``: raw EnvPool plus ``reset(env_ids)`` for the
  environments that just ended, through EnvPool's public API: the cost of
  the contract's same-step reset alone (one more round trip to EnvPool's
  threads in every step where an episode ends);
- ``bridge``: `EnvPoolBridge` (validation, text decoding, same-step reset);
- ``gymnasium``: the same task through Gymnasium (ale-py + our NumPy Atari
  stack; minigrid's BabyAI) in our in-process `VectorEnvironment`.

Reports agent steps/s (environments x steps per second) and the median of
same-round ratios to raw EnvPool, twice: in wall time, and in this
process's CPU time (all its threads, EnvPool's included; ``--clock cpu``
only that one), which leaves out the time other processes hold the cores:
the quiet-machine equivalent on a loaded machine. Writes
bench/results/envpool.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, pin, same_round, table, write  # noqa: E402
# bench/minigrid.py would shadow the minigrid package (python puts the script's folder first too)
sys.path[:] = [entry for entry in sys.path if Path(entry or '.').resolve() != Path(__file__).resolve().parent]

pin(0)

import numpy as np  # noqa: E402

CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}
ATARI = [dict(type='grayscale'), dict(type='image_resize', height=84, width=84), dict(type='sequence', length=4)]


def envpool_stepper(task: str, envs: int):
    import envpool
    env = envpool.make(task, env_type='gymnasium', num_envs=envs, seed=0, num_threads=1)
    env.reset()
    count = env.action_space.n
    rng = np.random.default_rng(0)
    return lambda: env.step(rng.integers(0, count, envs))


def envpool_reset_stepper(task: str, envs: int):
    import envpool
    env = envpool.make(task, env_type='gymnasium', num_envs=envs, seed=0, num_threads=1)
    env.reset()
    count = env.action_space.n
    rng = np.random.default_rng(0)

    def step():
        _, _, terminated, truncated, _ = env.step(rng.integers(0, count, envs))
        ended = terminated | truncated
        if ended.any():
            env.reset(np.flatnonzero(ended).astype(np.int32))
    return step


def bridge_stepper(task: str, envs: int):
    from modalbridge.bridges.envpool import EnvPoolBridge
    env = EnvPoolBridge(task, num_envs=envs, seed=0, num_threads=1)
    env.reset()
    count = env.actions['action'].num_values
    rng = np.random.default_rng(0)
    return lambda: env.execute({'action': rng.integers(0, count, envs)})


def gymnasium_stepper(task: str, envs: int):
    import gymnasium
    from modalbridge.bridges import GymBridge, VectorEnvironment
    if task == 'Pong-v5':
        import ale_py
        from modalbridge.preprocess import Stack
        from gymnasium.wrappers import MaxAndSkipObservation
        gymnasium.register_envs(ale_py)

        def make():
            return GymBridge(MaxAndSkipObservation(gymnasium.make('ALE/Pong-v5', frameskip=1,
                                                                  repeat_action_probability=0.0), skip=4))
        vector = VectorEnvironment([make() for _ in range(envs)])
        stack = Stack(vector.states, ATARI, num_envs=envs, backend='numpy')
        vector.reset(seed=0)
        count = vector.actions['action'].num_values
        rng = np.random.default_rng(0)

        def step():
            result = vector.execute({'action': rng.integers(0, count, envs)})
            stack(result.states)
            if result.info['final_mask'].any():
                stack.reset(result.info['final_mask'])
        return step
    import minigrid  # noqa: F401 - registers BabyAI
    vector = VectorEnvironment([GymBridge(gymnasium.make(task)) for _ in range(envs)])
    vector.reset(seed=0)
    count = vector.actions['action'].num_values
    rng = np.random.default_rng(0)
    return lambda: vector.execute({'action': rng.integers(0, count, envs)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--envs', type=int, default=8)
    parser.add_argument('--steps', type=int, default=50)
    parser.add_argument('--rounds', type=int, default=11)
    parser.add_argument('--clock', choices=('both', 'wall', 'cpu'), default='both')
    args = parser.parse_args()
    rows, figures = [], {}
    for task in ('Pong-v5', 'BabyAI-GoToLocal-v0'):
        variants = {'envpool': envpool_stepper(task, args.envs),
                    'envpool, same-step reset': envpool_reset_stepper(task, args.envs),
                    'bridge': bridge_stepper(task, args.envs), 'gymnasium': gymnasium_stepper(task, args.envs)}
        for clock_name in CLOCKS:
            if args.clock not in ('both', clock_name):
                continue
            result = compare(variants, args.steps, args.rounds, reference='envpool', clock=clock_name)
            samples = {name: value['samples'] for name, value in result.items()}
            figures[f'{task}, {clock_name}'] = dict(
                bridge_vs_envpool=same_round(lambda b, e: b / e, samples['bridge'], samples['envpool']),
                bridge_vs_same_step_reset=same_round(lambda b, e: b / e, samples['bridge'],
                                                     samples['envpool, same-step reset']))
            for name, value in result.items():
                rows.append(dict(task=task, clock=clock_name, variant=name,
                                 steps_per_s=round(args.envs / value['seconds']),
                                 time_ratio=round(value['ratio'], 3),
                                 ratio_p25_p75=f"{value['ratio_p25']:.3f}-{value['ratio_p75']:.3f}"))
    print(table(rows, ['task', 'clock', 'variant', 'steps_per_s', 'time_ratio', 'ratio_p25_p75']))
    for task, figure in figures.items():
        print(f'{task}: bridge / raw EnvPool ' + ', '.join(
            f"{name.split('_vs_')[1]} {value['median']:.3f} [{value['p25']:.3f}, {value['p75']:.3f}]"
            for name, value in figure.items()) + ' (target <= 1.10 over raw EnvPool)')
    clocks = 'wall: time.perf_counter; cpu: time.process_time (this process, all its threads)'
    path = write('envpool', rows, figures=figures, envs=args.envs, steps=args.steps, rounds=args.rounds, clocks=clocks)
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
