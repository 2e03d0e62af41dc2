"""Small contract environments shared by the bridge, vector and runner tests (NumPy only: no TF import)."""

import numpy as np

from modalbridge.bridges import Environment, Step, Terminal


class Ticks(Environment):
    """State = the step index; episodes of `length` steps (TERMINATED)."""

    def __init__(self, length=3):
        super().__init__(states=dict(t=dict(type='float', shape=(1,))),
                         actions=dict(action=dict(type='int', num_values=2)))
        self.length = length

    def _reset(self, seed):
        self.t = 0
        return dict(t=np.array([0.0], np.float32))

    def _execute(self, actions):
        self.t += 1
        return Step(dict(t=np.array([float(self.t)], np.float32)), 1.0,
                    Terminal.TERMINATED if self.t >= self.length else Terminal.NONE, {})
