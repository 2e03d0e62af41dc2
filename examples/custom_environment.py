"""Wrap a new environment with one adapter class, check it, and step it.

`LightsOut` has an image state (a 16x16 RGB picture of three lamps), a text
state (an instruction naming the lamp to switch off) and two named actions
(which lamp to press, and whether to press at all). The adapter only
declares its specs and implements `_reset` / `_execute`; the base class
validates actions, enforces the call order and the time limit.

    python examples/custom_environment.py
"""

from __future__ import annotations

import numpy as np

from modalbridge.bridges import Environment, Step, Terminal, check, specs

COLOURS = {'red': (255, 0, 0), 'green': (0, 255, 0), 'blue': (0, 0, 255)}


class LightsOut(Environment):
    """Switch off the lamp the instruction names; a wrong press ends the episode."""

    def __init__(self) -> None:
        super().__init__(
            states=dict(image=dict(type='int', shape=(16, 16, 3), min_value=0, max_value=255, dtype='uint8'),
                        instruction=dict(type='text')),
            actions=dict(lamp=dict(type='int', num_values=3), press=dict(type='bool')),
            max_episode_timesteps=10)

    def _reset(self, seed: int | None) -> dict:
        if seed is not None or not hasattr(self, 'rng'):  # reset() continues the seeded stream, as in Gymnasium
            self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(list(COLOURS))
        self.on = np.ones(3, bool)
        self.target = int(self.rng.integers(3))
        return self._observe()

    def _observe(self) -> dict:
        image = np.zeros((16, 16, 3), np.uint8)
        for index, colour in enumerate(self.order):
            if self.on[index]:
                image[6:10, 1 + 5 * index:5 + 5 * index] = COLOURS[colour]
        return dict(image=image, instruction=f'switch off the {self.order[self.target]} lamp')

    def _execute(self, actions: dict) -> Step:
        if not actions['press']:
            return Step(self._observe(), -0.1, Terminal.NONE, {})
        lamp = int(actions['lamp'])
        self.on[lamp] = False
        reward = 1.0 if lamp == self.target else -1.0
        return Step(self._observe(), reward, Terminal.TERMINATED, {'pressed': lamp})


def main() -> None:
    env = LightsOut()
    print('states: ', {name: specs.to_dict(spec) for name, spec in env.states.items()})
    print('actions:', {name: specs.to_dict(spec) for name, spec in env.actions.items()})
    print(check(LightsOut))

    rng = np.random.default_rng(0)
    returns = []
    for episode in range(200):
        states, total, terminal = env.reset(seed=episode), 0.0, Terminal.NONE
        if episode == 0:
            print('first instruction:', states['instruction'].item())
        while terminal == Terminal.NONE:
            actions = {name: specs.sample(spec, rng) for name, spec in env.actions.items()}
            step = env.execute(actions)
            total, terminal = total + step.reward, step.terminal
        returns.append(total)
    print(f'random agent over {len(returns)} episodes: mean return {np.mean(returns):+.3f} '
          f'(reading the instruction would give +1.000)')
    env.close()


if __name__ == '__main__':
    main()
