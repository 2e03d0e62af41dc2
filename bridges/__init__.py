"""modalbridge.bridges: the contract (named states and actions described by
dm_env specs) and the adapters that bring environments into it.

NumPy, Gymnasium and dm_env only: importing this package never imports
TensorFlow or OpenCV, and registers nothing (the built-in environments are
in `modalbridge.envs`).
"""

from modalbridge.bridges import arguments, gym_spaces, names, nest, plugins, specs
from modalbridge.bridges.batch import BatchedEnvironment, BatchStep
from modalbridge.bridges.conformance import CheckReport, check
from modalbridge.bridges.dm import DMEnvBridge
from modalbridge.bridges.envpool import EnvPoolBridge
from modalbridge.bridges.environment import Environment, Step, Terminal, terminal_from_flags
from modalbridge.bridges.errors import (CheckFailed, ConfigError, EnvironmentFailure,
                                        ModalbridgeError, ResetNeeded, SpecError)
from modalbridge.bridges.events import EventBridge
from modalbridge.bridges.gym import GymBridge
from modalbridge.bridges.lab import LabBridge
from modalbridge.bridges.specs import from_dict, to_dict, validate
from modalbridge.bridges.to_dm_env import to_dm_env
from modalbridge.bridges.to_gymnasium import to_gymnasium
from modalbridge.bridges.vector import VectorEnvironment

__all__ = [
    # the contract
    'Environment',
    'Step',
    'Terminal',
    'terminal_from_flags',
    'BatchedEnvironment',
    'BatchStep',
    # specs
    'from_dict',
    'to_dict',
    'validate',
    # bridges in
    'GymBridge',
    'DMEnvBridge',
    'LabBridge',
    'EventBridge',
    'VectorEnvironment',
    'EnvPoolBridge',
    # bridges out
    'to_gymnasium',
    'to_dm_env',
    # conformance
    'check',
    'CheckReport',
    # errors
    'ModalbridgeError',
    'SpecError',
    'ConfigError',
    'ResetNeeded',
    'EnvironmentFailure',
    'CheckFailed',
    # modules
    'arguments',
    'gym_spaces',
    'names',
    'nest',
    'plugins',
    'specs',
]
