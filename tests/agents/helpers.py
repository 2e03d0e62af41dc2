"""Small contract environments for the agent tests."""

import numpy as np

from modalbridge.bridges import Environment, Step, Terminal


class MultiModal(Environment):
    """Image + tokens + vector states; a discrete, a bool and a bounded float action.

    Reward: 1 when `move` equals the colour index shown, plus small terms for
    the other actions; episodes last 8 steps (TERMINATED).
    """

    def __init__(self):
        super().__init__(
            states=dict(image=dict(type='int', shape=(8, 8, 3), min_value=0, max_value=255, dtype='uint8'),
                        tokens=dict(type='int', shape=(5,), num_values=7, dtype='int32'),
                        speed=dict(type='float', shape=(2,))),
            actions=dict(move=dict(type='int', num_values=3), jump=dict(type='bool'),
                         force=dict(type='float', shape=(2,), min_value=-1.0, max_value=1.0)))

    def _reset(self, seed):
        if seed is not None or not hasattr(self, 'rng'):  # later resets continue the seeded stream
            self.rng = np.random.default_rng(seed)
        self.t = 0
        return self._observe()

    def _observe(self):
        self.colour = int(self.rng.integers(3))
        image = np.zeros((8, 8, 3), np.uint8)
        image[..., self.colour] = 255
        tokens = np.array([2 + self.colour, 5, 6, 0, 0], np.int32)
        return dict(image=image, tokens=tokens, speed=self.rng.normal(size=2).astype(np.float32))

    def _execute(self, actions):
        self.t += 1
        reward = float(actions['move'] == self.colour) + 0.1 * float(actions['jump']) - 0.01 * float(
            np.square(actions['force']).sum())
        return Step(self._observe(), reward, Terminal.TERMINATED if self.t >= 8 else Terminal.NONE, {})
