"""Per-step cost of the bridge and vector layers over raw Gymnasium, every comparison interleaved.

    python bench/bridges.py [--rounds 15] [--envs 8]

One pinned core. Rows:

- **one environment**: the raw Gymnasium `step` vs `GymBridge.execute`
  (validation on), on CartPole-v1 and on an image Dict environment (84x84x3
  uint8 image + caption);
- **a batch of `--envs` CartPoles**: raw `step` of each environment in a
  loop vs our `VectorEnvironment` of `GymBridge`s vs Gymnasium's
  `SyncVectorEnv` vs Stable-Baselines3's `DummyVecEnv` (when SB3 is
  importable); the figure is each layer's overhead per environment step
  over the raw loop, round by round (target: ours <= DummyVecEnv's).

Ratios are medians of same-round ratios with their 25th-75th percentile
spread (`common.compare`), in this process's CPU time (``--clock cpu``, the
default: on this shared machine, what the wall time would be on a quiet
one; ``--clock wall`` for wall time; the JSON keeps both medians);
conditions go into bench/results/bridges.json. SB3 is never a dependency:
run this with an interpreter that has it (and this checkout on
``PYTHONPATH``) to get its row.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, pin, same_round, table, write  # noqa: E402

pin()

import gymnasium  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium import spaces  # noqa: E402

from modalbridge.bridges import GymBridge, Terminal, VectorEnvironment  # noqa: E402


class ImageCaptionEnv(gymnasium.Env):
    """A pixel env whose own step is cheap, so the bridge's cost shows."""

    def __init__(self):
        self.observation_space = spaces.Dict({
            'image': spaces.Box(0, 255, (84, 84, 3), np.uint8),
            'caption': spaces.Text(64, charset='abcdefghijklmnopqrstuvwxyz ')})
        self.action_space = spaces.Discrete(4)
        self.image = np.random.default_rng(0).integers(0, 256, (84, 84, 3), dtype=np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return {'image': self.image, 'caption': 'go to the red ball'}, {}

    def step(self, action):
        self.t += 1
        return {'image': self.image, 'caption': 'go to the red ball'}, 0.0, False, self.t >= 500, {}


def raw_stepper(env):
    env.reset(seed=0)
    action = 0  # a Python int, as Gymnasium code passes it

    def step():
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return step


def bridge_stepper(env):
    env.reset(seed=0)
    actions = {'action': 0}

    def step():
        if env.execute(actions).terminal != Terminal.NONE:
            env.reset()
    return step


def raw_loop(count: int):
    envs = [gymnasium.make('CartPole-v1') for _ in range(count)]
    steps = [raw_stepper(env) for env in envs]

    def step():
        for one in steps:
            one()
    return step


def ours(count: int):
    envs = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(count)])
    envs.reset(seed=0)
    actions = {'action': np.zeros(count, np.int64)}
    return lambda: envs.execute(actions)


def gymnasium_sync(count: int):
    envs = gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make('CartPole-v1')] * count)
    envs.reset(seed=0)
    actions = np.zeros(count, np.int64)
    return lambda: envs.step(actions)


def sb3_dummy(count: int):
    from stable_baselines3.common.vec_env import DummyVecEnv
    envs = DummyVecEnv([lambda: gymnasium.make('CartPole-v1')] * count)
    envs.seed(0)
    envs.reset()
    actions = np.zeros(count, np.int64)
    return lambda: envs.step(actions)


def spread(figure: dict) -> str:
    return f"{figure['median']:.2f} [{figure['p25']:.2f}, {figure['p75']:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--number', type=int, default=2000, help='calls per round and variant')
    parser.add_argument('--envs', type=int, default=8)
    parser.add_argument('--clock', choices=['cpu', 'wall'], default='cpu',
                        help="what the figures measure: this process's CPU time (default) or wall time")
    parser.add_argument('--name', default='bridges', help='the results file: bench/results/NAME.json')
    args = parser.parse_args()
    rows, figures = [], {}
    for name, make in [('CartPole-v1', lambda: gymnasium.make('CartPole-v1')),
                       ('image+caption Dict', ImageCaptionEnv)]:
        result = compare(dict(raw=raw_stepper(make()), bridge=bridge_stepper(GymBridge(make()))),
                         number=args.number, rounds=args.rounds, clock=args.clock)
        overhead = same_round(lambda b, r: (b - r) * 1e6, result['bridge']['samples'], result['raw']['samples'])
        figures[f'{name}: bridge overhead us'] = overhead
        rows.append(dict(env=name, envs=1, layer='GymBridge', raw_us=round(result['raw']['seconds'] * 1e6, 2),
                         layer_us=round(result['bridge']['seconds'] * 1e6, 2),
                         overhead_us=round(overhead['median'], 2), ratio=round(result['bridge']['ratio'], 2)))

    count = args.envs
    variants = {'raw loop': raw_loop(count), 'ours (VectorEnvironment of GymBridge)': ours(count),
                'gymnasium SyncVectorEnv': gymnasium_sync(count)}
    try:
        variants['SB3 DummyVecEnv'] = sb3_dummy(count)
    except ImportError:
        print('stable-baselines3 is not importable: comparing with SyncVectorEnv only', file=sys.stderr)
    result = compare(variants, number=max(1, args.number // count), rounds=args.rounds, clock=args.clock)
    raw = result['raw loop']['samples']
    for layer in list(variants)[1:]:
        overhead = same_round(lambda t, r: (t - r) / count * 1e6, result[layer]['samples'], raw)
        figures[f'CartPole x{count}: {layer} overhead us per env step'] = overhead
        rows.append(dict(env='CartPole-v1', envs=count, layer=layer,
                         raw_us=round(result['raw loop']['seconds'] / count * 1e6, 2),
                         layer_us=round(result[layer]['seconds'] / count * 1e6, 2),
                         overhead_us=round(overhead['median'], 2), ratio=round(result[layer]['ratio'], 2)))
    ours_name = 'ours (VectorEnvironment of GymBridge)'
    for peer in ('SB3 DummyVecEnv', 'gymnasium SyncVectorEnv'):
        if peer in variants:
            figures[f'ours overhead / {peer} overhead'] = same_round(
                lambda o, p, r: (o - r) / (p - r), result[ours_name]['samples'], result[peer]['samples'], raw)
    print(f'clock: {args.clock} ({"process CPU time" if args.clock == "cpu" else "wall time"})')
    print(table(rows, ['env', 'envs', 'layer', 'raw_us', 'layer_us', 'overhead_us', 'ratio']))
    print()
    print(table([dict(figure=name, median_p25_p75=spread(value)) for name, value in figures.items()],
                ['figure', 'median_p25_p75']))
    print('target: ours overhead / SB3 DummyVecEnv overhead <= 1')
    print('wrote', write(args.name, rows, figures=figures, rounds=args.rounds, number=args.number,
                         sb3='SB3 DummyVecEnv' in variants, clock=args.clock))


if __name__ == '__main__':
    main()
