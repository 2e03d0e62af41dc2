"""Per-step cost of GymBridge over raw Gymnasium, in one run.

    python bench/bridges.py [--steps 20000]

Measures `env.step` on the raw Gymnasium environment and `execute` through
GymBridge (validation on) on CartPole-v1 and on an image Dict environment
(84x84x3 uint8 image + caption), and writes bench/results/bridges.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium
import numpy as np
from gymnasium import spaces

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, timeit, write  # noqa: E402

from modalbridge.bridges import GymBridge, Terminal  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=20000)
    args = parser.parse_args()
    rows = []
    for name, make in [('CartPole-v1', lambda: gymnasium.make('CartPole-v1')),
                       ('image+caption Dict', ImageCaptionEnv)]:
        raw = timeit(raw_stepper(make()), args.steps)
        bridged = timeit(bridge_stepper(GymBridge(make())), args.steps)
        rows.append(dict(env=name, raw_us=round(raw * 1e6, 2), bridge_us=round(bridged * 1e6, 2),
                         overhead_us=round((bridged - raw) * 1e6, 2), ratio=round(bridged / raw, 2)))
    print(table(rows, ['env', 'raw_us', 'bridge_us', 'overhead_us', 'ratio']))
    print(f'target: overhead <= 10 us per step on CartPole-v1 '
          f'({"met" if rows[0]["overhead_us"] <= 10 else "NOT met"})')
    print('wrote', write('bridges', rows, steps=args.steps))


if __name__ == '__main__':
    main()
