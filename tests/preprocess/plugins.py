"""User plug-ins named by dotted path in the stack tests."""

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.preprocess import Preprocessor


def double(x):
    return x * 2


class Negate(Preprocessor):
    def __init__(self, spec, offset=0.0):
        super().__init__(spec, dm_specs.Array(spec.shape, spec.dtype, name=spec.name))
        self.offset = offset

    def numpy(self, x):
        return self.offset - x

    def tf(self, x):
        return self.offset - x


NOT_CALLABLE = 3


class Count(Preprocessor):
    """A stateful plug-in with an unnamed state array: how many batches it saw."""

    stateful = True

    def __init__(self, spec):
        super().__init__(spec, spec)

    def initial_state(self, num_envs):
        return (np.zeros(num_envs, np.int64),)

    def numpy_step(self, x, state, first):
        return x, (state[0] + 1,)
