"""Reliability probe (issue 10): bad inputs at every public boundary, attack paths, injected faults.

    .venv/bin/python bench/reliability.py            # the full probe: prints the table, writes results/reliability.json
    .venv/bin/python bench/reliability.py --quick    # no TF-heavy agent cases

Every corpus entry is an input that is invalid, with the reason (`why`). Its
outcome is one of:

- clear: a `ModalbridgeError` whose message names the place (`place`, a substring);
- silent: no error at all (the invalid input was accepted);
- raw: any other exception, or a ModalbridgeError that does not name the place.

Attack paths return True when the attack worked (a side effect happened);
faults return True when the documented outcome held. `tests/test_reliability.py`
runs the fast part of this corpus in CI.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / 'results'


@dataclass
class Case:
    boundary: str
    name: str
    run: Callable[[], Any]
    why: str
    place: str = ''
    heavy: bool = False          # imports TF / builds an agent: full probe only


@dataclass
class Outcome:
    case: Case
    kind: str                    # clear / silent / raw
    detail: str = ''


def classify(case: Case) -> Outcome:
    from modalbridge.bridges.errors import ModalbridgeError
    try:
        case.run()
    except ModalbridgeError as error:
        message = str(error)
        if case.place and case.place.lower() not in message.lower():
            return Outcome(case, 'raw', f'{type(error).__name__} not naming {case.place!r}: {message[:200]}')
        return Outcome(case, 'clear', f'{type(error).__name__}: {message[:200]}')
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - this is what the probe measures
        return Outcome(case, 'raw', f'{type(error).__name__}: {str(error)[:200]}')
    return Outcome(case, 'silent', 'accepted')


# --------------------------------------------------------------------------
# Environments used by the corpus


def _envs():
    from modalbridge.bridges import Environment, Step, Terminal

    class Junk(Environment):
        """Returns what `make` gives for one field of its output; otherwise a valid image + vector env."""

        def __init__(self, field_name='', value=None):
            super().__init__(
                states=dict(vector=dict(type='float', shape=(2,), min_value=-1.0, max_value=1.0),
                            image=dict(type='int', shape=(2, 2), min_value=0, max_value=255, dtype='uint8'),
                            caption=dict(type='text')),
                actions=dict(action=dict(type='int', num_values=3), flag=dict(type='bool'),
                             word=dict(type='text')))
            self.field_name, self.value = field_name, value

        def _states(self):
            states = dict(vector=np.zeros(2, np.float32), image=np.zeros((2, 2), np.uint8), caption='hi')
            if self.field_name in states:
                states[self.field_name] = self.value
            return states

        def _reset(self, seed):
            return self._states()

        def _execute(self, actions):
            reward = self.value if self.field_name == 'reward' else 1.0
            terminal = self.value if self.field_name == 'terminal' else Terminal.NONE
            info = self.value if self.field_name == 'info' else {}
            if self.field_name == 'step':
                return self.value
            return Step(self._states(), reward, terminal, info)

    return Junk


def _simple():
    """An environment matching `SPECS` (for Runner cases): 5-step episodes."""
    from modalbridge.bridges import Environment, Step, Terminal

    class Simple(Environment):
        def __init__(self):
            super().__init__(**SPECS)

        def _reset(self, seed):
            self.t = 0
            return {'x': np.zeros(3, np.float32)}

        def _execute(self, actions):
            self.t += 1
            return Step({'x': np.full(3, self.t, np.float32)}, 1.0,
                        Terminal.TERMINATED if self.t >= 5 else Terminal.NONE, {})
    return Simple()


def _good_actions():
    return {'action': 1, 'flag': True, 'word': 'go'}


def _step_junk(field_name, value, reset_only=False):
    def run():
        env = _envs()(field_name, value)
        env.reset()
        if not reset_only:
            env.execute(_good_actions())
    return run


def _execute(actions, env_factory=None):
    def run():
        env = (env_factory or _envs())()
        env.reset()
        env.execute(actions)
    return run


# --------------------------------------------------------------------------
# Corpus


def spec_cases() -> list[Case]:
    from modalbridge.bridges import specs

    def fd(d, place):
        return Case('specs.from_dict', repr(d)[:70], lambda: specs.from_dict(d, name='s'), 'invalid short form',
                    place)
    bad = [
        (dict(type='float', shape=2.0), 'shape'), (dict(type='float', shape=-1), 'shape'),
        (dict(type='float', shape=(True,)), 'shape'), (dict(type='float', shape='3'), 'shape'),
        (dict(type='int', dtype='int8', min_value=-1000), 'min_value'),
        (dict(type='int', dtype='uint8', max_value=300), 'max_value'),
        (dict(type='float', min_value=math.nan), 'min_value'), (dict(type='float', max_value='1'), 'max_value'),
        (dict(type='float', min_value=1.0, max_value=0.0), 's'), (dict(type='int', num_values=0), 'num_values'),
        (dict(type='int', num_values=True), 'num_values'), (dict(type='int', num_values=2.0), 'num_values'),
        (dict(type='int', num_values=300, dtype='uint8'), 'num_values'),
        (dict(type='float', num_values=3), 'num_values'), (dict(type='bool', min_value=0), 'bool'),
        (dict(type='text', dtype='int8'), 'text'), (dict(type='complex'), 'type'), (dict(), 'type'),
        (dict(type='float', dtype='object'), 'dtype'), (dict(type='float', dtype='int32'), 'dtype'),
        (dict(type='int', dtype='float32'), 'dtype'), (dict(type='int', min_value=1.5), 'min_value'),
        (dict(type='int', min_value=[0, 1, 2], shape=(2,)), 'min_value'),
        (dict(type='float', min_value=[[0.0]], shape=(3,)), 'min_value'), (dict(type='float', unknown=1), 'unknown'),
        (dict(type='int', min_value=2 ** 70), 'min_value'), (dict(type='float', shape=(2 ** 40, 2 ** 40)), 'shape'),
        (dict(type='float', min_value=1e39, dtype='float32'), 'min_value'), ([('type', 'float')], 'spec'),
        (dict(type='float', dtype='float8'), 'dtype'), (dict(type=None), 'type'), ({1: 2}, 'unknown'),
    ]
    cases = [fd(d, p) for d, p in bad]

    def validate(spec, value, place='x'):
        return Case('specs.validate', f'{spec} <- {value!r}'[:70],
                    lambda: specs.validate(specs.from_dict(spec), value, key='x'), 'value outside the spec', place)
    u8 = dict(type='int', shape=(2,), min_value=0, max_value=255, dtype='uint8')
    f32 = dict(type='float', shape=(2,), min_value=-1.0, max_value=1.0)
    i32 = dict(type='int', shape=(1,), num_values=10, dtype='int32')
    bad_values = [
        (u8, [1.5, 2.0]), (u8, [300, 1]), (u8, [-1, 0]), (u8, ['1', '2']), (u8, [1]), (u8, None), (u8, [[1, 2]]),
        (u8, np.array([1, 2], object)), (u8, [True, False]), (f32, [math.nan, 0.0]), (f32, [math.inf, 0.0]),
        (f32, [2.0, 0.0]), (f32, ['1', '2']), (f32, [1, 2, 3]), (f32, 'ab'), (f32, {'a': 1}),
        (i32, [2 ** 33 + 3]), (i32, [-3]), (i32, [10]), (i32, [1.0000001]),
        (dict(type='float', shape=(1,), dtype='float32'), [16_777_217]), (dict(type='text'), 5),
        (dict(type='text'), b'\xff'), (dict(type='text'), None), (dict(type='text', shape=(2,)), ['a']),
        (dict(type='bool'), 2), (dict(type='bool'), 'yes'), (dict(type='bool'), 0.5),
    ]
    cases += [validate(s, v) for s, v in bad_values]
    return cases


def environment_cases() -> list[Case]:
    cases = []
    junk = [
        ('vector', np.array([math.nan, 0.0], np.float32)), ('vector', np.array([5.0, 0.0], np.float32)),
        ('vector', np.zeros(3, np.float32)), ('vector', np.zeros(2, object)), ('vector', None),
        ('vector', 'text'), ('image', np.full((2, 2), 1.5)), ('image', np.zeros((2, 2), np.int64) - 1),
        ('image', np.zeros((3, 3), np.uint8)), ('caption', 5), ('caption', np.array([1, 2])),
        ('caption', b'\xff'), ('caption', None),
    ]
    for key, value in junk:
        cases.append(Case('Environment outputs', f'reset {key}={value!r}'[:70], _step_junk(key, value, True),
                          'state outside its spec', key))
        cases.append(Case('Environment outputs', f'execute {key}={value!r}'[:70], _step_junk(key, value),
                          'state outside its spec', key))
    for value in (None, math.nan, math.inf, '1.5', [1.0], np.array([1.0, 2.0]), 1e39j, True):
        cases.append(Case('Environment outputs', f'reward={value!r}', _step_junk('reward', value),
                          'reward must be a finite real', 'reward'))
    for value in (7, -1, 'done', None, 1.5, [0]):
        cases.append(Case('Environment outputs', f'terminal={value!r}', _step_junk('terminal', value),
                          'terminal must be a Terminal', 'terminal'))
    for value in ([1, 2], 'info', 3):
        cases.append(Case('Environment outputs', f'info={value!r}', _step_junk('info', value),
                          'info must be a dict', 'info'))
    for value in (None, (1, 2), 'step'):
        cases.append(Case('Environment outputs', f'_execute returns {value!r}', _step_junk('step', value),
                          '_execute must return a Step', 'execute'))
    bad_actions = [
        ({'action': 5, 'flag': True, 'word': 'a'}, 'action'), ({'action': -1, 'flag': True, 'word': 'a'}, 'action'),
        ({'action': 1.5, 'flag': True, 'word': 'a'}, 'action'), ({'action': '1', 'flag': True, 'word': 'a'}, 'action'),
        ({'action': True, 'flag': True, 'word': 'a'}, 'action'), ({'action': 1, 'flag': 2, 'word': 'a'}, 'flag'),
        ({'action': 1, 'flag': True, 'word': 3}, 'word'), ({'action': 1, 'flag': True}, 'word'),
        ({'action': 1, 'flag': True, 'word': 'a', 'extra': 0}, 'extra'), ({'action': [1], 'flag': True, 'word': 'a'},
                                                                           'action'),
        ({'action': None, 'flag': True, 'word': 'a'}, 'action'), ([1, True, 'a'], 'actions'),
    ]
    for actions, place in bad_actions:
        cases.append(Case('Environment.execute', repr(actions)[:70], _execute(actions), 'action outside its spec',
                          place))

    def before_reset():
        _envs()().execute(_good_actions())
    cases.append(Case('Environment.execute', 'execute before reset', before_reset, 'out of order', 'reset'))

    def bad_limit(value):
        def run():
            env = _envs()()
            env.max_episode_timesteps = value
        return run
    for value in (True, -1, 1.5, '10', math.nan):
        cases.append(Case('Environment config', f'max_episode_timesteps={value!r}', bad_limit(value),
                          'a positive int or None', 'max_episode_timesteps'))
    for seed in (True, -1, 1.5, '0'):
        cases.append(Case('Environment.reset', f'seed={seed!r}', lambda s=seed: _envs()().reset(seed=s),
                          'seed must be a non-negative int', 'seed'))

    def bad_specs(states):
        def run():
            from modalbridge.bridges import Environment

            class E(Environment):
                def _reset(self, seed):
                    return {}

                def _execute(self, actions):
                    return None
            E(states=states, actions=dict(a=dict(type='int', num_values=2)))
        return run
    for states, place in [({'': dict(type='float')}, "''"), ({5: dict(type='float')}, '5'),
                          ({'x': 'float'}, 'x')]:
        cases.append(Case('Environment specs', repr(states)[:70], bad_specs(states), 'invalid state names/specs',
                          place))
    return cases


def gym_cases() -> list[Case]:
    import gymnasium
    from gymnasium import spaces

    from modalbridge.bridges import GymBridge

    class SpaceEnv(gymnasium.Env):
        def __init__(self, observation_space, action_space=None, obs=None):
            self.observation_space = observation_space
            self.action_space = action_space or spaces.Discrete(2)
            self.obs = obs

        def reset(self, seed=None, options=None):
            return (self.observation_space.sample() if self.obs is None else self.obs), {}

        def step(self, action):
            return (self.observation_space.sample() if self.obs is None else self.obs), 1.0, False, False, {}

    cases = []
    odd = [
        (spaces.Dict({0: spaces.Discrete(2), '0': spaces.Discrete(2)}), "'0'"),
        (spaces.Graph(spaces.Box(0, 1, (2,)), None), 'Graph'),
        (spaces.Sequence(spaces.Discrete(2)), 'Sequence'),
            ]
    for space, place in odd:
        def run(space=space):
            env = GymBridge(SpaceEnv(space))
            env.reset(seed=0)
        cases.append(Case('GymBridge spaces', repr(space)[:70], run, 'space with no exact spec', place))
    bad_obs = [
        (spaces.Box(0, 1, (2,), np.float32), np.array([math.nan, 0], np.float32), 'nan'),
        (spaces.Box(0, 1, (2,), np.float32), np.array([2.0, 0], np.float32), 'bound'),
        (spaces.Box(0, 255, (2,), np.uint8), np.array([1.5, 2.0]), 'state'),
        (spaces.Text(5), 7, 'state'), (spaces.Discrete(3), 5, 'state'),
    ]
    for space, obs, _place in bad_obs:
        def run(space=space, obs=obs):
            env = GymBridge(SpaceEnv(space, obs=obs))
            env.reset(seed=0)
        cases.append(Case('GymBridge values', f'{space} <- {obs!r}'[:70], run, 'observation outside its space',
                          'state'))
    for kwargs, place in [(dict(env='NoSuchEnv-v0'), 'NoSuchEnv'), (dict(env=5), 'env'),
                          (dict(env='CartPole-v1', max_episode_timesteps=True), 'max_episode_timesteps'),
                          (dict(env='CartPole-v1', max_episode_timesteps=0), 'max_episode_timesteps')]:
        cases.append(Case('GymBridge config', repr(kwargs), lambda k=kwargs: GymBridge(**k), 'invalid argument',
                          place))
    return cases


def dm_cases() -> list[Case]:
    import dm_env
    from dm_env import specs as dm_specs

    from modalbridge.bridges import DMEnvBridge

    class Raw(dm_env.Environment):
        def __init__(self, obs, reward=1.0, discount=1.0):
            self.obs, self.reward, self.discount = obs, reward, discount

        def observation_spec(self):
            return {'x': dm_specs.BoundedArray((2,), np.float32, 0.0, 1.0, name='x')}

        def action_spec(self):
            return dm_specs.DiscreteArray(2)

        def reset(self):
            return dm_env.restart(self.obs)

        def step(self, action):
            return dm_env.TimeStep(dm_env.StepType.MID, self.reward, self.discount, self.obs)

    good = {'x': np.zeros(2, np.float32)}
    cases = []
    for obs, why in [({'x': np.array([2.0, 0.0], np.float32)}, 'out of bounds'),
                     ({'x': np.array([math.nan, 0], np.float32)}, 'NaN'), ({'x': np.zeros(3, np.float32)}, 'shape'),
                     ({}, 'missing state'), ({'x': None}, 'None')]:
        def run(obs=obs):
            DMEnvBridge(Raw(obs)).reset()
        cases.append(Case('DMEnvBridge', f'observation {why}', run, why, 'x'))
    for reward in (None, math.nan, 'a', np.array([1.0, 2.0])):
        def run(reward=reward):
            env = DMEnvBridge(Raw(good, reward=reward))
            env.reset()
            env.execute({'action': 1})
        cases.append(Case('DMEnvBridge', f'reward={reward!r}', run, 'reward must be a finite real', 'reward'))
    for env in (None, 5, 'suite'):
        cases.append(Case('DMEnvBridge', f'env={env!r}', lambda e=env: DMEnvBridge(e), 'not a dm_env', 'DMEnvBridge'))
    return cases


def vector_cases(processes: bool) -> list[Case]:
    from modalbridge.bridges import VectorEnvironment

    Junk = _envs()
    mode = 'processes' if processes else 'in-process'
    cases = []
    batches = [
        ({'action': [0, 1, 5], 'flag': [True] * 3, 'word': ['a'] * 3}, 'action'),
        ({'action': [0, 1], 'flag': [True] * 3, 'word': ['a'] * 3}, 'action'),
        ({'action': [0, 1, 2], 'flag': [2, 0, 1], 'word': ['a'] * 3}, 'flag'),
        ({'action': [0, 1, 2], 'flag': [True] * 3, 'word': [3, 4, 5]}, 'word'),
        ({'action': [0, 1, 2], 'flag': [True] * 3}, 'word'),
        ({'action': [0.5, 1, 2], 'flag': [True] * 3, 'word': ['a'] * 3}, 'action'),
        ({'action': 1, 'flag': True, 'word': 'a'}, 'action'),
    ]
    for actions, place in batches:
        def run(actions=actions):
            envs = VectorEnvironment([Junk for _ in range(3)], processes=processes)
            try:
                envs.reset(seed=0)
                try:
                    envs.execute(actions)
                finally:
                    # a partly applied batch would show as steps taken on some envs only
                    if not processes and len({env.timestep for env in envs.envs}) != 1:
                        raise AssertionError('partial batch applied')
            finally:
                envs.close()
        cases.append(Case(f'VectorEnvironment ({mode})', repr(actions)[:70], run, 'batch outside the action specs',
                          place))
    for kwargs, place in [(dict(envs=[]), 'VectorEnvironment'), (dict(envs=[Junk], timeout=0), 'timeout'),
                          (dict(envs=[Junk], processes=1), 'processes'), (dict(envs=[Junk], timeout=math.nan),
                                                                          'timeout')]:
        if processes:
            kwargs = dict(kwargs, processes=kwargs.get('processes', True))
        cases.append(Case(f'VectorEnvironment ({mode})', repr(kwargs)[:70],
                          lambda k=kwargs: VectorEnvironment(**k).close(), 'invalid argument', place))
    return cases


def stack_cases() -> list[Case]:
    from modalbridge.preprocess import Stack

    states = dict(image=dict(type='int', shape=(8, 8, 3), min_value=0, max_value=255, dtype='uint8'),
                  vector=dict(type='float', shape=(3,)), caption=dict(type='text'))
    declarations = [
        ({'image': dict(type='image_resize', height=True, width=4)}, 'height'),
        ({'image': dict(type='image_resize', height=-1, width=4)}, 'height'),
        ({'image': dict(type='grayscale', weights=[math.nan] * 3)}, 'weights'),
        ({'vector': dict(type='clip', min_value=math.nan, max_value=1)}, 'min_value'),
        ({'image': dict(type='sequence', length=0)}, 'length'),
        ({'image': dict(type='sequence', length=True)}, 'length'),
        ({'vector': dict(type='running_standardize', epsilon=math.nan)}, 'epsilon'),
        ({'vector': dict(type='running_standardize', epsilon=math.inf)}, 'epsilon'),
        ({'vector': dict(type='clip', min_value=1.0, max_value=0.0)}, 'min_value'),
        ({'vector': dict(type='scale', factor=1e308)}, 'factor'),
        ({'vector': dict(type='no_such_type')}, 'no_such_type'),
        ({'vector': dict(type='payload.Thing')}, 'payload'),
        ({'nope': dict(type='scale', factor=2.0)}, 'nope'),
        ({'vector': 'scale'}, 'vector'), ({'vector': dict(type='scale')}, 'factor'),
        ({'vector': dict(type='scale', factor=2.0, bogus=1)}, 'bogus'),
        ({'caption': dict(type='tokenize', vocabulary=5)}, 'vocabulary'),
        ({'image': dict(type='crop', top=-1, left=0, height=4, width=4)}, 'top'),
        ({'image': dict(type='crop', top=0, left=0, height=40, width=4)}, 'height'),
        ({'image': dict(type='image_resize', height=4, width=4, method='magic')}, 'method'),
        ({'vector': dict(type='one_hot')}, 'one_hot'), ({'caption': dict(type='tokenize', length=0)}, 'length'),
        ({'vector': dict(type='sequence', length=3, axis=5)}, 'axis'),
        ({'image': dict(type='grayscale', weights=[1.0, 2.0])}, 'weights'),
        ([1, 2], 'preprocessing'),
    ]
    cases = []
    for backend in ('numpy', 'tf'):
        for declaration, place in declarations:
            cases.append(Case(f'Stack declarations ({backend})', repr(declaration)[:70],
                              lambda d=declaration, b=backend: Stack(states, d, backend=b), 'invalid declaration',
                              place, heavy=backend == 'tf'))
        cases += [
            Case(f'Stack args ({backend})', 'num_envs=True', lambda b=backend: Stack(states, {}, num_envs=True, backend=b),
                 'bool is not an int', 'num_envs', heavy=backend == 'tf'),
            Case(f'Stack args ({backend})', "backend='torch'", lambda: Stack(states, {}, backend='torch'),
                 'unknown backend', 'backend'),
        ]

        def nan_into_running(b=backend):
            stack = Stack(states, {'vector': dict(type='running_standardize')}, backend=b)
            stack({'vector': np.array([math.nan, 0, 0], np.float32), 'image': np.zeros((8, 8, 3), np.uint8),
                   'caption': 'hi'})
        cases.append(Case(f'Stack inputs ({backend})', 'NaN into running_standardize', nan_into_running,
                          'NaN poisons the statistics', 'vector', heavy=backend == 'tf'))
        for key, value in [('image', np.zeros((8, 8, 3), np.float32) + 1.5), ('image', np.zeros((4, 4, 3), np.uint8)),
                           ('caption', 5), ('vector', None)]:
            def run(key=key, value=value, b=backend):
                stack = Stack(states, {'vector': dict(type='scale', factor=2.0)}, backend=b)
                inputs = {'vector': np.zeros(3, np.float32), 'image': np.zeros((8, 8, 3), np.uint8), 'caption': 'hi'}
                inputs[key] = value
                stack(inputs)
            brief = f'{value.dtype} {value.shape}' if isinstance(value, np.ndarray) else repr(value)
            cases.append(Case(f'Stack inputs ({backend})', f'{key}={brief}', run,
                              'state outside its spec', key, heavy=backend == 'tf'))
    return cases


def plugin_schedule_cases() -> list[Case]:
    from modalbridge.agents.schedules import schedule
    from modalbridge.bridges.plugins import resolve

    cases = [Case('plugins.resolve', repr(p), lambda p=p: resolve(p, safe_mode=True), 'not registered', str(p)[:8])
             for p in ('payload.Dense', 'os.system', 'builtins.eval', 'keras.layers.TFSMLayer', '', 5, None, '....')]
    cases += [Case('plugins.resolve', repr(p), lambda p=p: resolve(p), 'does not exist', str(p)[:8])
              for p in ('no_such_module_xyz.Thing', 'os.no_such_attribute', 'json.')]
    cases[-2].place = 'no_such_attribute'
    decls = [
        dict(type='linear', initial=1.0, final=0.0, timesteps=0), dict(type='linear', initial=1.0, final=0.0),
        dict(type='linear', initial=math.nan, final=0.0, timesteps=10), dict(type='exponential', initial=1.0,
                                                                              decay_rate=-1, decay_steps=10),
        dict(type='piecewise', boundaries=[10, 5], values=[1, 2, 3]), dict(type='piecewise', boundaries=[10],
                                                                            values=[1]),
        dict(type='constant', value='abc'), dict(type='linear', initial=1.0, final=0.0, timesteps='abc'),
        dict(type='linear', initial=1.0, final=0.0, timesteps=True), dict(type='cosine'), math.nan, math.inf, 'abc',
        None, [1, 2], dict(type='linear', initial=1.0, final=0.0, timesteps=10, extra=1),
    ]
    cases += [Case('schedules.schedule', repr(d)[:70], lambda d=d: schedule(d, 'learning_rate'),
                   'invalid schedule', 'learning_rate') for d in decls]
    return cases


SPECS = dict(states=dict(x=dict(type='float', shape=(3,))), actions=dict(a=dict(type='int', num_values=2)))


def agent_cases() -> list[Case]:
    from modalbridge.agents import A2C, PPO

    cases = []
    for cls, fields in [
        (A2C, dict(learning_rate=math.inf)), (A2C, dict(value_coef=math.nan)), (A2C, dict(entropy_coef=-5.0)),
        (A2C, dict(n_steps=True)), (A2C, dict(n_steps=0)), (A2C, dict(seed='0')), (A2C, dict(parallel=True)),
        (A2C, dict(discount=1.5)), (A2C, dict(network='payload.Dense')), (A2C, dict(no_such_field=1)),
        (A2C, dict(network=[dict(type='dense', size=-3)])), (A2C, dict(network=[dict(type='dense', size=True)])),
        (A2C, dict(optimizer='no_such_optimizer')), (A2C, dict(network=[dict(type='nope')])),
        (PPO, dict(clip_ratio=-0.1)), (PPO, dict(epochs=0)), (PPO, dict(learning_rate=dict(type='linear',
                                                                                            initial=1.0))),
    ]:
        name = next(iter(fields))
        cases.append(Case('agent constructors', f'{cls.__name__}({fields!r})'[:70],
                          lambda c=cls, f=fields: c(**SPECS, **f), 'invalid field', name, heavy=True))
    for specs_kw, place in [(dict(states={}, actions=SPECS['actions']), 'states'),
                            (dict(states={'a/b': dict(type='float'), 'a__b': dict(type='float')},
                                  actions=SPECS['actions']), 'a__b'),
                            (dict(states=SPECS['states'], actions={'a/b': dict(type='int', num_values=2),
                                                                   'a__b': dict(type='int', num_values=2)}), 'a__b')]:
        cases.append(Case('agent constructors', repr(specs_kw)[:70], lambda k=specs_kw: A2C(**k), 'invalid specs',
                          place, heavy=True))
    return cases


_AGENT = {}


def _agent():
    if 'a' not in _AGENT:
        from modalbridge.agents import A2C
        _AGENT['a'] = A2C(**SPECS, n_steps=4, seed=0)
    return _AGENT['a']


def agent_io_cases() -> list[Case]:
    cases = []

    def observe(reward, terminal=0):
        def run():
            agent = _agent()
            agent.act({'x': np.zeros(3, np.float32)})
            try:
                agent.observe(reward, terminal)
            except BaseException:
                agent.observe(0.0, 0)  # leaves the shared agent ready for the next case
                raise
        return run
    for reward in (None, math.nan, math.inf, 1e39, '1.5', [1.0, 2.0]):
        cases.append(Case('agent.observe', f'reward={reward!r}', observe(reward), 'reward must be a finite real',
                          'reward', heavy=True))
    for terminal in (7, -1, 'done', 1.5):
        cases.append(Case('agent.observe', f'terminal={terminal!r}', observe(0.0, terminal),
                          'terminal must be 0/1/2', 'terminal', heavy=True))
    def tokens(value):
        def run():
            if 't' not in _AGENT:
                from modalbridge.agents import A2C
                _AGENT['t'] = A2C(states=dict(t=dict(type='int', shape=(3,), num_values=10, dtype='int32')),
                                  actions=SPECS['actions'], seed=0)
            _AGENT['t'].act({'t': value}, independent=True)
        return run
    for value in (np.array([2 ** 33 + 3, 0, 0]), np.array([-3, 0, 0]), np.array([10, 0, 0]),
                  np.array([1.5, 0, 0])):
        cases.append(Case('agent.act', f'int32 token state {value.tolist()}', tokens(value),
                          'token ids outside num_values (or not exactly int32)', 't', heavy=True))
    cases.append(Case('agent.act', 'float64 1e39 into a float32 state',
                      lambda: _agent().act({'x': np.array([1e39, 0, 0])}, independent=True),
                      'overflows float32 to inf', 'x', heavy=True))
    for states, place in [({'x': np.array([math.nan, 0, 0], np.float32)}, 'x'), ({'x': np.zeros(4)}, 'x'),
                          ({}, 'x'), ({'x': np.zeros(3), 'y': 1}, 'y'), ({'x': 'abc'}, 'x')]:
        cases.append(Case('agent.act', repr(states)[:70], lambda s=states: _agent().act(s, independent=True), 'state outside its spec',
                          place, heavy=True))
    return cases


def checkpoint_cases(tmp: Path) -> list[Case]:
    from modalbridge.agents import A2C

    def corrupt(edit, place):
        def run():
            path = tmp / f'ckpt-{len(os.listdir(tmp))}'
            _agent().save(path)
            edit(path)
            A2C.load(path)
        return run

    def json_edit(transform):
        def edit(path):
            file = path / 'agent.json'
            document = json.loads(file.read_text())
            file.write_text(transform(document))
        return edit

    def set_config(key, value):
        def transform(document):
            document.setdefault('config', {})[key] = value
            return json.dumps(document)
        return transform

    edits = [
        (lambda p: (p / 'agent.json').write_bytes(b'\xff\xfe{'), 'agent.json'),
        (lambda p: (p / 'agent.json').write_text('[' * 100_000 + ']' * 100_000), 'agent.json'),
        (lambda p: (p / 'agent.json').write_text('{"agent": "A2C", '), 'agent.json'),
        (lambda p: (p / 'agent.json').write_text('{"agent": "A2C", "x": NaN}'), 'agent.json'),
        (lambda p: (p / 'agent.json').unlink(), 'agent.json'),
        (json_edit(lambda d: json.dumps(dict(d, agent='Nope'))), 'Nope'),
        (json_edit(set_config('n_steps', 'abc')), 'n_steps'),
        (json_edit(set_config('learning_rate', dict(type='linear', initial=1.0, final=0.0, timesteps='abc'))),
         'timesteps'),
        (json_edit(lambda d: json.dumps(dict(d, states={'x': dict(type='float', shape=2.0)}))), 'shape'),
        (json_edit(lambda d: json.dumps(dict(d, states=[1, 2]))), 'states'),
    ]

    def weights(path):
        for file in path.rglob('*.h5'):
            file.write_bytes(b'garbage' * 10)
        for file in path.rglob('*.keras'):
            file.write_bytes(b'garbage' * 10)
        for file in path.rglob('*.npz'):
            file.write_bytes(b'garbage' * 10)
    edits.append((weights, 'weights'))
    cases = [Case('Agent.load (corrupted)', f'edit {i}', corrupt(e, p), 'corrupted checkpoint', '', heavy=True)
             for i, (e, p) in enumerate(edits)]
    cases.append(Case('Agent.load (corrupted)', 'missing directory', lambda: A2C.load(tmp / 'missing'),
                      'no checkpoint', 'missing', heavy=True))
    return cases


def runner_cases() -> list[Case]:
    from modalbridge.agents import Runner

    def run(kwargs, ctor=None):
        def go():
            runner = Runner(_agent(), _simple(), **(ctor or {}))
            runner.run(progress=False, **kwargs)
        return go
    Junk = _envs()
    cases = [Case('Runner.run', repr(k), run(k), 'invalid run argument', p, heavy=True) for k, p in [
        (dict(episodes=True), 'episodes'), (dict(episodes=-1), 'episodes'), (dict(timesteps=1.5), 'timesteps'),
        (dict(), 'episodes'), (dict(episodes=1, callback=5), 'callback'), (dict(episodes=1, log_every=math.nan),
                                                                            'log_every'),
        (dict(episodes=1, max_episode_timesteps=0), 'max_episode_timesteps')]]
    cases += [Case('Runner', repr(k), run(dict(episodes=1), k), 'invalid argument', p, heavy=True) for k, p in [
        (dict(seed='0'), 'seed'), (dict(seed=True), 'seed'), (dict(window=0), 'window')]]
    cases.append(Case('Runner', 'environment=5', lambda: Runner(_agent(), 5), 'not an environment', 'Runner',
                      heavy=True))
    del Junk
    return cases


def network_cases() -> list[Case]:
    from modalbridge.agents import networks
    from modalbridge.bridges import specs

    states = {'x': specs.from_dict(dict(type='float', shape=(3,)), 'x')}
    decls = [
        ([dict(type='dense', size=-1)], 'size'), ([dict(type='dense', size=2.5)], 'size'),
        ([dict(type='dense')], 'size'), ([dict(type='dense', size=4, activation='nope')], 'activation'),
        ([dict(type='payload.Dense', size=4)], 'payload'), ([dict(type='nope')], 'nope'), (5, 'network'),
        ('/nonexistent/net.json', 'net.json'), ([dict(type='dense', size=4, bogus=1)], 'bogus'),
        ({'y': [dict(type='dense', size=4)]}, 'y'), ([dict(type='conv2d', size=4, window=3)], 'conv2d'),
        ([dict(type='dropout', rate=1.5)], 'rate'), ([dict(type='lstm', size=True)], 'size'),
        ([[[[]]]], 'network'),
    ]
    return [Case('networks.build', repr(d)[:70], lambda d=d: networks.build(states, d, safe_mode=True),
                 'invalid network', p, heavy=True) for d, p in decls]


def names_events_cases() -> list[Case]:
    from modalbridge.bridges import EventBridge

    cases = []
    for keys, place in [('ab', 'keys'), ([], 'keys'), (['a', 'a'], 'a'), ([1, 2], 'keys'), (None, 'keys')]:
        cases.append(Case('EventBridge', f'keys={keys!r}', lambda k=keys: EventBridge(object(), keys=k, vision_shape=(4, 4, 3)),
                          'invalid keys', place))
    return cases


def to_gymnasium_lab_cases() -> list[Case]:
    from modalbridge.bridges import GymBridge, to_gymnasium
    from modalbridge.bridges.lab import LabBridge

    sys.path.insert(0, str(ROOT))
    from tests.fakes.deepmind_lab import Lab
    observations = ['RGB_INTERLEAVED', 'INSTR', 'DEBUG.POS.TRANS']
    cases = []
    for kwargs, place in [(dict(text_max_length=True), 'text_max_length'), (dict(text_max_length=0), 'text_max_length'),
                          (dict(text_charset=''), 'text_charset'), (dict(text_charset=5), 'text_charset')]:
        cases.append(Case('to_gymnasium', repr(kwargs), lambda k=kwargs: to_gymnasium(_envs()(), **k),
                          'invalid argument', place))
    cases.append(Case('to_gymnasium', 'env=5', lambda: to_gymnasium(5), 'not an Environment', 'env'))

    def gym_step(action):
        def run():
            env = to_gymnasium(GymBridge('CartPole-v1'))
            env.reset(seed=0)
            env.step(action)
        return run
    for action in (2, -1, 1.5, 'a', None, [0, 1]):
        cases.append(Case('to_gymnasium step', f'CartPole action {action!r}', gym_step(action),
                          'outside Discrete(2)', 'action'))
    for kwargs, place in [(dict(observations='RGB'), 'observations'), (dict(observations=[]), 'observations'),
                          (dict(observations=['NOPE']), 'NOPE'), (dict(observations=observations, num_steps=True),
                                                                   'num_steps'),
                          (dict(observations=observations, num_steps=0), 'num_steps'),
                          (dict(observations=observations, fill_missing='yes'), 'fill_missing')]:
        cases.append(Case('LabBridge', repr(kwargs)[:70],
                          lambda k=kwargs: LabBridge(Lab('fake_maze', observations), **k), 'invalid argument', place))
    return cases


def evaluation_cases() -> list[Case]:
    from modalbridge.agents.evaluation import evaluate

    def run(kwargs, env=None):
        return lambda: evaluate(_agent(), env if env is not None else _simple(), **kwargs)
    cases = [Case('evaluate', repr(k), run(k), 'invalid argument', p, heavy=True) for k, p in [
        (dict(episodes=True), 'episodes'), (dict(episodes=0), 'episodes'), (dict(episodes=1, seed='0'), 'seed'),
        (dict(episodes=1, success=5), 'success'), (dict(episodes=1, deterministic='yes'), 'deterministic')]]
    cases.append(Case('evaluate', 'env=5', run(dict(episodes=1), 5), 'not an environment', 'evaluate', heavy=True))
    cases.append(Case('evaluate', 'success raises', run(dict(episodes=1, success=lambda info: 1 / 0)),
                      'a failing success function', 'success', heavy=True))
    return cases


def demo_config_cases(tmp: Path) -> list[Case]:
    """`examples/image_caption.py --config run.json`: a JSON file someone else wrote."""
    def run(document, place):
        def go():
            sys.path.insert(0, str(ROOT))
            from examples.image_caption import load_config

            from modalbridge import cli
            from modalbridge.agents.create import create
            from modalbridge.bridges import VectorEnvironment
            file = tmp / f'run-{abs(hash(json.dumps(document, sort_keys=True)))}.json'
            file.write_text(json.dumps(document))
            config = load_config(file, {})
            # what `cli.train` does before training, on 2 environments (the demo's PPO needs 2 or more)
            cli.check_vocabulary(config, True)
            envs = VectorEnvironment([cli.make_env(config.environment, True) for _ in range(2)])
            try:
                create(config.agent_declaration(), envs, seed=config.seed, safe_mode=True)
            finally:
                envs.close()
        return Case('demo --config', json.dumps(document)[:70], go, 'invalid run configuration', place, heavy=True)
    bad = [
        ({'environment': {'id': 'payload:Env-v0'}}, 'payload'), ({'environment': {'kwargs': {}}}, 'id'),
        ({'environment': {'id': 'modalbridge/CaptionRoom-v0', 'kwargs': [1, 2]}}, 'kwargs'),
        ({'environment': []}, 'environment'), ({'envs': True}, 'envs'), ({'envs': 0}, 'envs'),
        ({'steps': 'abc'}, 'steps'), ({'seed': -1}, 'seed'), ({'network': '/etc/net.json'}, 'network'),
        ({'network': {'image': [{'type': 'payload.Dense', 'size': 4}]}}, 'payload'),
        ({'preprocessing': {'image': [{'type': 'payload.Thing'}]}}, 'payload'), ({'preprocessing': 5},
                                                                                 'preprocessing'),
        ({'agent': {'learning_rate': 'fast'}}, 'learning_rate'), ({'agent': {'n_steps': True}}, 'n_steps'),
        ({'agent': {'no_such_option': 1}}, 'no_such_option'), ({'agent': []}, 'agent'), ({'unknown': 1}, 'unknown'),
    ]
    return [run(document, place) for document, place in bad]


def builder_cases() -> list[Case]:
    from modalbridge.agents import networks
    from modalbridge.bridges import specs

    states = {'x': specs.from_dict(dict(type='float', shape=(3,)), 'x')}

    def raising(inputs):
        raise RuntimeError('bug in the builder')
    builders = [(lambda inputs: None, 'None'), (lambda inputs: [inputs['x']], 'list'), (raising, 'bug'),
                (lambda inputs: inputs['nope'], 'nope'), (lambda: None, 'builder')]
    return [Case('networks.build (builder)', name, lambda b=builder: networks.build(states, b), 'a bad builder',
                 'builder', heavy=True) for builder, name in builders]


def corpus(quick: bool, tmp: Path) -> list[Case]:
    cases = (spec_cases() + environment_cases() + gym_cases() + dm_cases() + vector_cases(False)
             + stack_cases() + plugin_schedule_cases() + names_events_cases() + to_gymnasium_lab_cases())
    if not quick:
        cases += vector_cases(True)
        cases += agent_cases() + agent_io_cases() + network_cases() + runner_cases() + checkpoint_cases(tmp)
        cases += evaluation_cases() + builder_cases() + demo_config_cases(tmp)
    return [case for case in cases if not (quick and case.heavy)]


# --------------------------------------------------------------------------
# Fuzzing (hypothesis): random short forms must either raise a ConfigError or round-trip.


def fuzz_specs(examples: int = 400) -> dict[str, Any]:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from modalbridge.bridges import specs
    from modalbridge.bridges.errors import ModalbridgeError

    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True),
                        st.text(max_size=3))
    bound = st.one_of(scalars, st.lists(st.one_of(st.integers(-300, 300), st.floats(-1e40, 1e40)), max_size=4))
    short = st.fixed_dictionaries(
        {'type': st.sampled_from(['int', 'float', 'bool', 'text', 'x'])},
        optional={'shape': st.one_of(scalars, st.lists(st.integers(-1, 4), max_size=3)),
                  'dtype': st.sampled_from(['int8', 'uint8', 'int32', 'int64', 'float16', 'float32', 'float64',
                                            'bool', 'object', 'nope']),
                  'min_value': bound, 'max_value': bound,
                  'num_values': st.one_of(scalars, st.integers(-1, 300))})
    # well-formed ones too (per-element bounds, every dtype), so that round trips are exercised
    def bounded(draw_shape):
        return draw_shape.flatmap(lambda shape: st.fixed_dictionaries({
            'type': st.just('float'), 'shape': st.just(shape),
            'min_value': st.lists(st.floats(-1e6, 0, allow_nan=False), min_size=shape[0], max_size=shape[0]),
            'max_value': st.one_of(st.floats(1, 1e6), st.lists(st.floats(1, 1e6), min_size=shape[0],
                                                                max_size=shape[0]))}))
    ints = st.fixed_dictionaries({'type': st.just('int'), 'dtype': st.sampled_from(['int8', 'uint8', 'int32']),
                                  'shape': st.tuples(st.integers(0, 3)),
                                  'min_value': st.integers(0, 100), 'max_value': st.integers(100, 127)})
    short = st.one_of(short, bounded(st.tuples(st.integers(1, 4))), ints,
                      st.fixed_dictionaries({'type': st.just('int'), 'num_values': st.integers(1, 2 ** 40),
                                             'shape': st.sampled_from([(), (2,), (1, 3)])}),
                      st.fixed_dictionaries({'type': st.sampled_from(['bool', 'text']),
                                             'shape': st.sampled_from([(), (2,), (0,)])}))
    counts = dict(tried=0, errors=0, roundtrip=0, raw=0)
    failures: list[str] = []

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(short)
    def probe(declaration):
        counts['tried'] += 1
        try:
            spec = specs.from_dict(declaration, name='s')
        except ModalbridgeError:
            counts['errors'] += 1
            return
        except Exception as error:  # noqa: BLE001
            counts['raw'] += 1
            failures.append(f'from_dict({declaration!r}): {type(error).__name__}: {error}'[:300])
            return
        try:
            again = specs.from_dict(json.loads(json.dumps(specs.to_dict(spec))), name='s')
            if specs.to_dict(again) != json.loads(json.dumps(specs.to_dict(spec))) and \
                    json.loads(json.dumps(specs.to_dict(again))) != json.loads(json.dumps(specs.to_dict(spec))):
                raise AssertionError('changed')
            counts['roundtrip'] += 1
        except Exception as error:  # noqa: BLE001
            counts['raw'] += 1
            failures.append(f'round trip of {declaration!r}: {type(error).__name__}: {error}'[:300])
    probe()
    return dict(counts, failures=failures[:20])


def fuzz_stacks(examples: int = 300) -> dict[str, Any]:
    """Random preprocessing declarations (NumPy backend) and one call: a ModalbridgeError or a result."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from modalbridge.bridges.errors import ModalbridgeError
    from modalbridge.preprocess import Stack

    states = dict(image=dict(type='int', shape=(6, 6, 3), min_value=0, max_value=255, dtype='uint8'),
                  vector=dict(type='float', shape=(3,)), caption=dict(type='text'),
                  choice=dict(type='int', num_values=4))
    inputs = dict(image=np.zeros((6, 6, 3), np.uint8), vector=np.ones(3, np.float32), caption='go to the red box',
                  choice=np.int64(2))
    values = st.one_of(st.none(), st.booleans(), st.integers(-3, 10), st.floats(allow_nan=True),
                       st.text(max_size=3), st.lists(st.one_of(st.integers(-2, 5), st.floats(-2, 2)), max_size=4))
    kinds = st.sampled_from(['center', 'clip', 'crop', 'deltafier', 'flatten', 'frame_max', 'grayscale',
                             'image_resize', 'normalize', 'one_hot', 'running_standardize', 'scale', 'sequence',
                             'standardize', 'tokenize'])
    fields = st.sampled_from(['min_value', 'max_value', 'factor', 'length', 'axis', 'height', 'width', 'top',
                              'left', 'weights', 'keep_dim', 'method', 'epsilon', 'vocabulary', 'mean', 'std'])
    entry = st.builds(lambda kind, extra: dict(extra, type=kind), kinds, st.dictionaries(fields, values, max_size=3))
    declaration = st.dictionaries(st.sampled_from(list(states)), st.lists(entry, min_size=1, max_size=2),
                                  min_size=1, max_size=2)
    counts = dict(tried=0, errors=0, accepted=0, raw=0)
    failures: list[str] = []

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(declaration)
    def probe(declaration):
        counts['tried'] += 1
        try:
            stack = Stack(states, declaration, backend='numpy')
            stack(dict(inputs))
            stack(dict(inputs))
        except ModalbridgeError:
            counts['errors'] += 1
            return
        except Exception as error:  # noqa: BLE001
            counts['raw'] += 1
            failures.append(f'Stack({declaration!r}): {type(error).__name__}: {error}'[:300])
            return
        counts['accepted'] += 1
    probe()
    return dict(counts, failures=failures[:20])


# --------------------------------------------------------------------------
# Attack paths (safe mode): each returns True when the attack WORKED.


def _payload_dir(tmp: Path) -> Path:
    directory = tmp / 'attack'
    directory.mkdir(exist_ok=True)
    (directory / 'payload.py').write_text(textwrap.dedent(f'''
        import pathlib
        pathlib.Path({str(directory / "PWNED")!r}).write_text("ran")
        from keras.layers import Dense
        class Thing: pass
    '''))
    return directory


def _in_subprocess(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], cwd=cwd, capture_output=True, text=True, timeout=300)


def attack_dotted_network(tmp: Path) -> bool:
    directory = _payload_dir(tmp)
    code = textwrap.dedent('''
        import json, sys
        from modalbridge.agents import A2C
        agent = A2C(states=dict(x=dict(type='float', shape=(3,))), actions=dict(a=dict(type='int', num_values=2)))
        agent.save('agent')
        file = 'agent/agent.json'
        document = json.load(open(file))
        text = json.dumps(document).replace('"dense"', '"payload.Dense"')
        if 'payload.Dense' not in text:
            document.setdefault('config', {})['network'] = [dict(type='payload.Dense', units=4)]
            text = json.dumps(document)
        open(file, 'w').write(text)
        try:
            A2C.load('agent')
        except Exception as error:
            print('refused', type(error).__name__, error)
    ''')
    _in_subprocess(code, directory)
    return (directory / 'PWNED').exists()


def attack_tfsm_layer(tmp: Path) -> bool:
    directory = tmp / 'tfsm'
    directory.mkdir(exist_ok=True)
    code = textwrap.dedent('''
        import json
        from modalbridge.agents import A2C
        agent = A2C(states=dict(x=dict(type='float', shape=(3,))), actions=dict(a=dict(type='int', num_values=2)))
        agent.save('agent')
        document = json.load(open('agent/agent.json'))
        for layer in ({"type": "keras.layers.TFSMLayer", "filepath": "sm", "call_endpoint": "serve"},
                      {"type": "lambda", "function": "lambda x: x"},
                      {"type": "keras.layers.Lambda", "function": "lambda x: x"}):
            document.setdefault('config', {})['network'] = [layer]
            json.dump(document, open('agent/agent.json', 'w'))
            try:
                A2C.load('agent').act({'x': [0.0, 0.0, 0.0]})
                print('LOADED', layer['type'])
            except Exception as error:
                print('refused', type(error).__name__)
    ''')
    result = _in_subprocess(code, directory)
    return 'LOADED' in result.stdout


def attack_network_path(tmp: Path) -> bool:
    """A network given as a JSON path must be stored by value: changing the file later changes nothing."""
    directory = tmp / 'netpath'
    directory.mkdir(exist_ok=True)
    code = textwrap.dedent('''
        import json, os
        from modalbridge.agents import A2C
        from modalbridge.agents import networks
        from modalbridge.bridges.errors import ConfigError
        json.dump([dict(type='dense', size=4)], open('net.json', 'w'))
        specs = dict(states=dict(x=dict(type='float', shape=(3,))), actions=dict(a=dict(type='int', num_values=2)))
        try:  # a path as such is refused (it would be re-read later); networks.declaration reads it once
            A2C(**specs, network=os.path.abspath('net.json'))
            print('BYPATH: a path was accepted')
        except ConfigError:
            pass
        agent = A2C(**specs, network=networks.declaration(os.path.abspath('net.json')))
        agent.save('agent')
        stored = open('agent/agent.json').read()
        print('BYPATH' if 'net.json' in stored else 'byvalue')
        json.dump([dict(type='dense', size=9)], open('net.json', 'w'))
        loaded = A2C.load('agent')
        print('CHANGED' if '9' in json.dumps(loaded.config.network) else 'same')
    ''')
    result = _in_subprocess(code, directory)
    return 'BYPATH' in result.stdout or 'byvalue' not in result.stdout or 'same' not in result.stdout


def attack_config_module_id(tmp: Path) -> bool:
    directory = _payload_dir(tmp)
    config = directory / 'run.json'
    config.write_text(json.dumps({'environment': {'id': 'payload:Env-v0'}}))
    subprocess.run([sys.executable, str(ROOT / 'examples' / 'image_caption.py'), '--config', str(config),
                    '--steps', '10', '--out', str(directory / 'out')], cwd=directory, capture_output=True,
                   text=True, timeout=300)
    return (directory / 'PWNED').exists()


def attack_preprocessing_file(tmp: Path) -> bool:
    directory = _payload_dir(tmp)
    (directory / 'PWNED').unlink(missing_ok=True)
    declaration = directory / 'pre.json'
    declaration.write_text(json.dumps({'x': [dict(type='payload.Thing')]}))
    code = textwrap.dedent(f'''
        from modalbridge.preprocess import Stack
        try:
            Stack(dict(x=dict(type='float', shape=(3,))), {str(declaration)!r}, backend='numpy')
        except Exception as error:
            print('refused', type(error).__name__)
    ''')
    _in_subprocess(code, directory)
    return (directory / 'PWNED').exists()


ATTACKS = dict(dotted_network_type=attack_dotted_network, tfsm_lambda_layer=attack_tfsm_layer,
               network_by_path=attack_network_path, config_module_id=attack_config_module_id,
               preprocessing_file_dotted_type=attack_preprocessing_file)


def run_attacks(tmp: Path) -> dict[str, bool]:
    results = {}
    for name, attack in ATTACKS.items():
        (tmp / 'attack' / 'PWNED').unlink(missing_ok=True)
        try:
            results[name] = attack(tmp)
        except Exception as error:  # noqa: BLE001
            print(f'  attack {name}: probe error {error!r}')
            results[name] = True
    return results


# --------------------------------------------------------------------------
# Injected faults: each returns True when the documented outcome held.


def _save_interrupted(tmp: Path, exception: BaseException, at: str) -> bool:
    """Interrupts `os.rename`/`os.replace`/... at its n-th call during a second save: the first checkpoint survives
    intact (or the new one is complete), and no debris is left."""
    from unittest import mock

    from modalbridge.agents import A2C

    import shutil
    module = shutil if at == 'rmtree' else os
    agent = _agent()
    held = []
    for n in range(1, 12):
        path = tmp / f'save-{at}-{type(exception).__name__}-{n}'
        agent.save(path)
        before = sorted(p.name for p in path.iterdir())
        real = getattr(module, at)
        calls = [0]

        def patched(*args, calls=calls, n=n, real=real, **kwargs):
            calls[0] += 1
            if calls[0] == n:
                raise exception
            return real(*args, **kwargs)
        with mock.patch.object(module, at, patched):
            try:
                agent.save(path)
            except BaseException:  # noqa: BLE001
                pass
        if calls[0] < n:
            break
        if at == 'rmtree':  # interrupted while deleting the old copy: the next load finishes the clean-up
            A2C.load(path)
        debris = [p.name for p in tmp.iterdir() if '.replaced-' in p.name or '.saving-' in p.name]
        ok = path.is_dir() and sorted(p.name for p in path.iterdir()) == before and not debris
        if ok:
            A2C.load(path)
        held.append(ok)
    return bool(held) and all(held)


def fault_enospc(tmp: Path) -> bool:
    from unittest import mock

    from modalbridge.agents import A2C
    from modalbridge.bridges.errors import ModalbridgeError

    agent = _agent()
    path = tmp / 'full-disk'
    agent.save(path)
    real_open = open

    def full(file, mode='r', *args, **kwargs):
        if 'w' in mode and str(tmp) in str(file):
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real_open(file, mode, *args, **kwargs)
    import builtins
    raised = None
    with mock.patch.object(builtins, 'open', full):
        try:
            agent.save(path)
        except (OSError, ModalbridgeError) as error:
            raised = error
    A2C.load(path)
    debris = [p.name for p in tmp.iterdir() if '.replaced-' in p.name or '.saving-' in p.name]
    return raised is not None and not debris


def fault_save_into_foreign(tmp: Path) -> bool:
    from modalbridge.bridges.errors import ConfigError
    path = tmp / 'notes'
    path.mkdir()
    (path / 'notes.txt').write_text('precious')
    try:
        _agent().save(path)
    except ConfigError:
        pass
    return (path / 'notes.txt').read_text() == 'precious'


def fault_corrupted_weights(tmp: Path) -> bool:
    from modalbridge.agents import A2C
    from modalbridge.bridges.errors import ModalbridgeError
    path = tmp / 'corrupt-weights'
    _agent().save(path)
    files = [p for p in path.rglob('*') if p.is_file() and p.name != 'agent.json']
    for file in files:
        file.write_bytes(b'\x00' * 17)
    try:
        A2C.load(path)
    except ModalbridgeError:
        return bool(files)
    return False


def _vector_worker_fault(kind: str) -> bool:
    from modalbridge.bridges import VectorEnvironment
    from modalbridge.bridges.errors import EnvironmentFailure, SpecError

    Junk = _envs()
    envs = VectorEnvironment([lambda: Junk(), lambda: _faulty(kind)], processes=True, timeout=3.0)
    try:
        envs.reset(seed=0)
        try:
            envs.execute({'action': [0, 0], 'flag': [True, True], 'word': ['a', 'b']})
        except (EnvironmentFailure, SpecError) as error:
            message = str(error)
            named = ('1' in message) and (kind != 'misshaped' or 'vector' in message)
            # afterwards: either usable or closed with a clear message
            try:
                envs.reset(seed=0)
                envs.execute({'action': [0, 0], 'flag': [True, True], 'word': ['a', 'b']})
            except EnvironmentFailure:
                pass
            except Exception:  # noqa: BLE001
                return False
            return named
        return False
    finally:
        envs.close()


def _faulty(kind: str):
    from modalbridge.bridges import Step, Terminal
    from modalbridge.bridges.errors import SpecError
    Junk = _envs()

    class Faulty(Junk):
        def _execute(self, actions):
            if kind == 'hang':
                time.sleep(3600)
            if kind == 'die':
                os._exit(7)
            if kind == 'specerror':
                raise SpecError('action', 'something', 'other')
            if kind == 'misshaped':
                states = self._states()
                states['vector'] = np.zeros(5, np.float32)
                return Step(states, 0.0, Terminal.NONE, {})
            return super()._execute(actions)
    return Faulty()


def fault_ctrl_c(processes: bool) -> bool:
    """SIGINT during a vector step: KeyboardInterrupt propagates, and the env is then usable or clearly closed."""
    import threading

    from modalbridge.bridges import Environment, Step, Terminal, VectorEnvironment
    from modalbridge.bridges.errors import EnvironmentFailure, ResetNeeded

    Junk = _envs()

    class Slow(Junk):
        def _execute(self, actions):
            time.sleep(0.3)
            return super()._execute(actions)
    envs = VectorEnvironment([Slow, Slow], processes=processes, timeout=10)
    actions = {'action': [0, 0], 'flag': [True, True], 'word': ['a', 'b']}
    try:
        envs.reset(seed=0)
        threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            envs.execute(actions)
            time.sleep(0.5)
            return False
        except KeyboardInterrupt:
            pass
        try:
            envs.reset(seed=0)
            envs.execute(actions)
        except (EnvironmentFailure, ResetNeeded):
            pass
        except Exception:  # noqa: BLE001
            return False
        return True
    finally:
        envs.close()
    del Environment, Step, Terminal


def fault_orphans() -> bool:
    """The parent is killed with SIGKILL while its workers hang: the workers exit on their own."""
    code = textwrap.dedent('''
        import os, sys, time
        sys.path.insert(0, %r)
        from reliability import _envs, _faulty
        from modalbridge.bridges import VectorEnvironment
        envs = VectorEnvironment([lambda: _faulty('hang'), lambda: _faulty('hang')], processes=True, timeout=600)
        envs.reset(seed=0)
        print(' '.join(str(p.pid) for p in envs._workers.processes) if hasattr(envs._workers, 'processes')
              else 'nopids', flush=True)
        envs.execute({'action': [0, 0], 'flag': [True, True], 'word': ['a', 'b']})
    ''' % str(Path(__file__).resolve().parent))
    process = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline().split()
    time.sleep(1.0)
    children = subprocess.run(['pgrep', '-P', str(process.pid)], capture_output=True, text=True).stdout.split()
    process.kill()
    process.wait()
    deadline = time.time() + 10
    alive = children
    while time.time() < deadline:
        alive = [pid for pid in children if _alive(int(pid))]
        if not alive:
            break
        time.sleep(0.2)
    for pid in alive:  # clean up what we started
        os.kill(int(pid), signal.SIGKILL)
    return bool(children) and not alive and line != []


def _alive(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as file:
            return file.read().split()[2] != 'Z'
    except OSError:
        return False


def fault_nonfinite_loss() -> bool:
    """A huge reward (finite) that makes the loss overflow: the update must raise, weights untouched."""
    from modalbridge.agents import A2C
    from modalbridge.bridges.errors import ModalbridgeError
    agent = A2C(**SPECS, n_steps=2, seed=0)
    weights = [w.copy() for w in agent.policy.model.get_weights()]
    raised = None
    try:
        for _ in range(2):  # n_steps=2: the second observe updates
            agent.act({'x': np.zeros(3, np.float32)})
            agent.observe(3e38, 0)
    except ModalbridgeError as error:
        raised = error
    after = agent.policy.model.get_weights()
    if raised is not None:  # the documented outcome: raised, naming the update, weights untouched
        return 'update' in str(raised).lower() and all(np.array_equal(a, b) for a, b in zip(weights, after))
    return all(np.isfinite(w).all() for w in after)


def fault_nan_reward() -> bool:
    from modalbridge.agents import A2C
    from modalbridge.bridges.errors import SpecError
    agent = A2C(**SPECS, n_steps=2, seed=0)
    try:
        agent.act({'x': np.zeros(3, np.float32)})
        agent.observe(math.nan, 0)
    except SpecError:
        pass
    return all(np.isfinite(w).all() for w in agent.policy.model.get_weights())


def fault_nan_running_stats(backend: str) -> bool:
    from modalbridge.bridges.errors import SpecError
    from modalbridge.preprocess import Stack
    stack = Stack(dict(x=dict(type='float', shape=(2,))), {'x': dict(type='running_standardize')}, backend=backend)
    stack({'x': np.array([1.0, 2.0], np.float32)})
    try:
        stack({'x': np.array([math.nan, 2.0], np.float32)})
    except SpecError:
        pass
    out = stack({'x': np.array([1.0, 2.0], np.float32)})
    return bool(np.isfinite(out['x']).all())


def fault_global_rng() -> bool:
    import random

    from modalbridge.agents import A2C
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    A2C(**SPECS, seed=5)
    return (np.random.random(), random.random()) == expected


def fault_runner_numpy_false() -> bool:
    from modalbridge.agents import Runner
    calls = [0]

    def callback(runner):
        calls[0] += 1
        return np.bool_(False)
    Runner(_agent(), _simple()).run(timesteps=50, callback=callback, progress=False)
    return calls[0] == 1


def fault_environment_raises() -> bool:
    from modalbridge.bridges.errors import EnvironmentFailure
    Junk = _envs()

    class Raising(Junk):
        def _execute(self, actions):
            raise RuntimeError('boom')
    env = Raising()
    env.reset()
    try:
        env.execute(_good_actions())
    except EnvironmentFailure as error:
        return isinstance(error.original, RuntimeError)
    return False


def fault_pickle_errors() -> bool:
    from modalbridge.bridges.errors import EnvironmentFailure, SpecError
    a = pickle.loads(pickle.dumps(SpecError('k', 'e', 'r')))
    b = pickle.loads(pickle.dumps(EnvironmentFailure('m', ValueError('x'))))
    return (a.key, a.expected, a.received) == ('k', 'e', 'r') and str(b) == 'm'


def run_faults(tmp: Path, quick: bool) -> dict[str, bool]:
    faults: dict[str, Callable[[], bool]] = {
        'environment raises -> EnvironmentFailure': fault_environment_raises,
        'errors pickle across processes': fault_pickle_errors,
        'NaN into running stats (numpy)': lambda: fault_nan_running_stats('numpy'),
    }
    if not quick:
        faults.update({
            'NaN into running stats (tf)': lambda: fault_nan_running_stats('tf'),
            'worker hangs (timeout names worker)': lambda: _vector_worker_fault('hang'),
            'worker dies': lambda: _vector_worker_fault('die'),
            'worker returns misshaped state': lambda: _vector_worker_fault('misshaped'),
            'worker raises SpecError': lambda: _vector_worker_fault('specerror'),
            'Ctrl-C during vector step (in-process)': lambda: fault_ctrl_c(False),
            'Ctrl-C during vector step (processes)': lambda: fault_ctrl_c(True),
            'parent killed: no orphan workers': fault_orphans,
            'NaN reward into observe': fault_nan_reward,
            'non-finite loss': fault_nonfinite_loss,
            'corrupted weights file': lambda: fault_corrupted_weights(tmp),
            'full disk (ENOSPC) during save': lambda: fault_enospc(tmp),
            'save into a foreign directory': lambda: fault_save_into_foreign(tmp),
            'global RNG untouched by seed': fault_global_rng,
            'Runner stops on numpy False': fault_runner_numpy_false,
        })
        for at in ('rename', 'fsync', 'rmtree'):
            for exception in (KeyboardInterrupt(), OSError(errno.EIO, 'I/O error')):
                where = 'shutil' if at == 'rmtree' else 'os'
                faults[f'{type(exception).__name__} at each {where}.{at} of save'] = (
                    lambda a=at, e=exception: _save_interrupted(tmp, e, a))
    results = {}
    for name, fault in faults.items():
        try:
            results[name] = bool(fault())
        except BaseException as error:  # noqa: BLE001
            print(f'  fault {name}: {type(error).__name__}: {str(error)[:200]}')
            results[name] = False
    return results


# --------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--no-attacks', action='store_true')
    parser.add_argument('--fuzz', type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        outcomes = [classify(case) for case in corpus(args.quick, tmp)]
        fuzz = fuzz_specs(args.fuzz)
        stacks = fuzz_stacks(args.fuzz)
        attacks = {} if args.no_attacks else run_attacks(tmp)
        faults = run_faults(tmp, args.quick)
    by_boundary: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        row = by_boundary.setdefault(outcome.case.boundary, dict(tried=0, clear=0, silent=0, raw=0))
        row['tried'] += 1
        row[outcome.kind] += 1
    print(f'{"boundary":40s} {"tried":>6s} {"clear":>6s} {"silent":>6s} {"raw":>6s}')
    for boundary, row in by_boundary.items():
        print(f'{boundary:40s} {row["tried"]:6d} {row["clear"]:6d} {row["silent"]:6d} {row["raw"]:6d}')
    total = {k: sum(r[k] for r in by_boundary.values()) for k in ('tried', 'clear', 'silent', 'raw')}
    print(f'{"total":40s} {total["tried"]:6d} {total["clear"]:6d} {total["silent"]:6d} {total["raw"]:6d}')
    print(f'spec fuzzing: {fuzz["tried"]} short forms, {fuzz["errors"]} ConfigErrors, {fuzz["roundtrip"]} round '
          f'trips, {fuzz["raw"]} raw crashes / round-trip failures')
    print(f'preprocessing fuzzing: {stacks["tried"]} declarations, {stacks["errors"]} ModalbridgeErrors, '
          f'{stacks["accepted"]} accepted and run, {stacks["raw"]} raw crashes')
    print(f'attack paths open in safe mode: {sum(attacks.values())} of {len(attacks)}')
    print(f'injected faults survived: {sum(faults.values())} of {len(faults)}')
    print('\nfindings:')
    for outcome in outcomes:
        if outcome.kind != 'clear':
            print(f'  [{outcome.kind}] {outcome.case.boundary}: {outcome.case.name} ({outcome.case.why}) -> '
                  f'{outcome.detail}')
    for failure in fuzz['failures'] + stacks['failures']:
        print(f'  [fuzz] {failure}')
    for name, opened in attacks.items():
        if opened:
            print(f'  [attack open] {name}')
    for name, survived in faults.items():
        if not survived:
            print(f'  [fault not survived] {name}')
    if args.quick:
        return  # the full probe's numbers only go to results/
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / 'reliability.json').write_text(json.dumps(dict(
        inputs=dict(by_boundary=by_boundary, total=total), fuzz=fuzz, fuzz_preprocessing=stacks, attacks=attacks, faults=faults,
        findings=[dict(kind=o.kind, boundary=o.case.boundary, input=o.case.name, why=o.case.why, detail=o.detail)
                  for o in outcomes if o.kind != 'clear']), indent=1))


if __name__ == '__main__':
    main()
