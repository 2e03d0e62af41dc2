"""modalbridge.bridges: the contract (named states and actions described by
dm_env specs) and the adapters that bring environments into it.

NumPy only: importing this package never imports TensorFlow.
"""

from modalbridge.bridges import envs, names, specs
from modalbridge.bridges.conformance import CheckReport, check
from modalbridge.bridges.dm import DMEnvBridge
from modalbridge.bridges.environment import Environment, Step, Terminal
from modalbridge.bridges.events import EventBridge
from modalbridge.bridges.errors import (CheckFailed, ConfigError, EnvironmentFailure,
                                        ModalbridgeError, ResetNeeded, SpecError)
from modalbridge.bridges.gym import GymBridge
from modalbridge.bridges.lab import LabBridge
from modalbridge.bridges.specs import from_dict, to_dict, validate
from modalbridge.bridges.to_dm_env import to_dm_env
from modalbridge.bridges.to_gymnasium import to_gymnasium
from modalbridge.bridges.vector import VectorEnvironment

__all__ = [
    'CheckFailed', 'CheckReport', 'DMEnvBridge', 'EventBridge', 'GymBridge', 'LabBridge', 'to_dm_env', 'VectorEnvironment', 'check', 'to_gymnasium', 'ConfigError', 'Environment', 'EnvironmentFailure', 'ModalbridgeError',
    'ResetNeeded', 'SpecError', 'Step', 'Terminal', 'from_dict', 'names', 'specs',
    'envs', 'to_dict', 'validate',
]
