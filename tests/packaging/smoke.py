"""Run by test_wheel.py in a fresh virtual environment holding the built wheel.

Imports the three layers from the installed wheel (not the source tree) and
runs one bridge, one stack and one agent step.
"""

import importlib.metadata
import pathlib
import sys

import numpy as np

import modalbridge
import modalbridge.bridges as bridges
import modalbridge.envs  # noqa: F401 - the built-in environments import from the wheel too

assert 'site-packages' in pathlib.Path(bridges.__file__).parts, bridges.__file__
assert 'tensorflow' not in sys.modules, 'importing the bridges imported TensorFlow'
assert 'site-packages' in pathlib.Path(modalbridge.__file__).parts, modalbridge.__file__
assert modalbridge.__version__ == importlib.metadata.version('modalbridge'), modalbridge.__version__

from modalbridge.bridges import GymBridge  # noqa: E402
from modalbridge.preprocess import Stack  # noqa: E402

env = GymBridge('CartPole-v1')
states = env.reset(seed=0)
step = env.execute({'action': 1})
stack = Stack(env.states, dict(state=[dict(type='clip', min_value=-1.0, max_value=1.0)]), backend='numpy')
out = stack({'state': step.states['state'][None]})
assert out['state'].shape == (1, 4) and np.all(np.abs(out['state']) <= 1)

from modalbridge.agents import A2C  # noqa: E402

agent = A2C(states=env.states, actions=env.actions)
actions = agent.act(states)
assert actions['action'].shape == () and 0 <= int(actions['action']) <= 1
agent.observe(1.0, 0)
print('wheel smoke ok')
