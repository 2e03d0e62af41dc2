"""`create`: an agent from a configuration, TensorForce's `Agent.create` form.

    agent = Agent.create(agent='ppo', environment=env, network='auto', learning_rate=1e-3)
    agent = Agent.create(agent='ppo.json', environment=env)         # a JSON file
    agent = Agent.create(agent=dict(agent='a2c', n_steps=8), environment=env)

The agent is named (case-insensitively, by its class name: 'ppo', 'a2c',
'random', ...), given as a class, or read from a dict or a JSON file holding
``agent`` (or ``type``) next to the agent's options (network, preprocessing,
exploration, learning_rate...). The options are checked against the agent's
typed configuration (its class's `Config` dataclass, else its constructor's
keyword arguments) before anything is built, and every error names the place:
``config['learning_rate']: expected ...``.

A JSON file is someone else's writing: it is read with
`checkpoint.load_json` and its declarations resolve in safe mode (only
registered plug-ins, nothing imported). Dicts and keyword arguments are the
user's own code and resolve any dotted path.

>>> from modalbridge.bridges import GymBridge
>>> env = GymBridge('CartPole-v1')
>>> agent = create('random', env, seed=0)
>>> type(agent).__name__, agent.num_envs
('RandomAgent', 1)
>>> create('random', env, learning_rate=1e-3)
Traceback (most recent call last):
...
modalbridge.bridges.errors.ConfigError: config['learning_rate']: unknown option of RandomAgent; known: ['num_envs', 'parallel', 'seed']
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import os
import typing
from typing import Any, Mapping

from modalbridge.agents import checkpoint
from modalbridge.bridges import plugins
from modalbridge.bridges.errors import ConfigError

# Constructor arguments that are not configuration: given by the environment or by `create` itself.
NOT_OPTIONS = ('self', 'states', 'actions', 'config', 'safe_mode')
TYPE_KEYS = ('agent', 'type')
BUILT_IN = ('modalbridge.agents', 'modalbridge.agents.dqn', 'modalbridge.agents.td3')


def create(agent: Any, environment: Any = None, *, states: Any = None, actions: Any = None,
           safe_mode: bool | None = None, **options: Any) -> Any:
    """An agent for `environment` (anything with `states` and `actions`: an `Environment`,
    a `VectorEnvironment`, a preprocessed environment) or for explicit `states` / `actions`.

    `agent`: a name, an `Agent` subclass, a dict holding ``agent`` and options, or the path
    of a JSON file holding such a dict. `options` add to (and override) the dict's.
    A `VectorEnvironment` sets `num_envs` unless the options do. `safe_mode` defaults
    to True for a file, False otherwise.
    """
    from modalbridge.agents.agent import Agent

    place, from_file = 'config', False
    if isinstance(agent, os.PathLike) or (isinstance(agent, str) and (agent.endswith('.json')
                                                                       or os.path.sep in agent)):
        path = os.fspath(agent)
        agent, place, from_file = checkpoint.load_json(path, 'Agent.create'), f'{path!r}: config', True
        if not isinstance(agent, dict):
            raise ConfigError(f'Agent.create: {path!r} must hold a JSON object with {TYPE_KEYS[0]!r} and the '
                              f"agent's options; it holds a {type(agent).__name__}")
    if isinstance(agent, Mapping):
        document = dict(agent)
        named = [key for key in TYPE_KEYS if key in document]
        if len(named) != 1:
            raise ConfigError(f"{place}: expected exactly one of {list(TYPE_KEYS)} naming the agent; "
                              f'received the keys {sorted(document)}')
        agent = document.pop(named[0])
        options = {**document, **options}
    safe_mode = from_file if safe_mode is None else safe_mode
    kind = _agent_class(agent, place, Agent)
    states, actions, num_envs = _specs(environment, states, actions)
    if num_envs is not None and 'num_envs' not in options and 'parallel' not in options:
        options = {**options, ('num_envs' if 'num_envs' in _known(kind) else 'parallel'): num_envs}
    options = _checked(kind, options, place)
    if 'safe_mode' in inspect.signature(kind).parameters:
        options['safe_mode'] = safe_mode  # the agent resolves its declarations itself
    elif safe_mode:
        _refuse_imports(options, place)
    try:
        return kind(states, actions, **options)
    except ConfigError as error:
        raise _placed(error, place, options) from None


def _agent_class(agent: Any, place: str, base: type) -> type:
    from modalbridge.agents.agent import AGENTS

    if isinstance(agent, type) and issubclass(agent, base) and agent is not base:
        return agent
    if not isinstance(agent, str):
        raise ConfigError(f"{place}['agent']: expected an agent name such as 'ppo', an Agent class, a dict or a "
                          f'JSON file path; received {agent!r}')
    for module in BUILT_IN:  # registers the built-in agents
        importlib.import_module(module)
    from modalbridge.agents.on_policy import OnPolicyAgent

    # every concrete agent class by its name but the shared bases (a subclass of RandomAgent defined
    # elsewhere does not hide RandomAgent)
    bases = (base, OnPolicyAgent)
    names = {name.lower(): cls for name, cls in AGENTS.items() if not inspect.isabstract(cls) and cls not in bases}
    names.update({name.lower().removesuffix('agent'): cls for name, cls in list(names.items())})
    if agent.lower() not in names:
        close = difflib.get_close_matches(agent.lower(), list(names), n=1)
        hint = f' (did you mean {close[0]!r}?)' if close else ''
        raise ConfigError(f"{place}['agent']: unknown agent {agent!r}{hint}; known: {sorted(names)}")
    return names[agent.lower()]


def _specs(environment: Any, states: Any, actions: Any) -> tuple[Any, Any, int | None]:
    if environment is not None:
        if states is not None or actions is not None:
            raise ConfigError('Agent.create: give an environment or states and actions, not both')
        if not hasattr(environment, 'states') or not hasattr(environment, 'actions'):
            raise ConfigError(f'Agent.create: environment must have states and actions specs (a modalbridge '
                              f'Environment or VectorEnvironment); received {type(environment).__name__}')
        return environment.states, environment.actions, getattr(environment, 'num_envs', None)
    if states is None or actions is None:
        raise ConfigError('Agent.create: give an environment, or both states and actions')
    return states, actions, None


def _config_class(kind: type) -> type | None:
    """The agent's typed configuration: the dataclass its constructor's `config` argument
    is annotated with (DQN, TD3), else its `Config` attribute (A2C, PPO, RandomAgent)."""
    try:
        hint = typing.get_type_hints(kind.__init__).get('config')  # type: ignore[misc]  # this class's own
    except Exception:  # noqa: BLE001 - an unresolvable annotation: fall back on `Config`
        hint = None
    for candidate in typing.get_args(hint) or (hint,):
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    config = getattr(kind, 'Config', None)
    return config if isinstance(config, type) and dataclasses.is_dataclass(config) else None


def _known(kind: type) -> set[str]:
    """The option names an agent class takes: its Config's fields and its constructor's keywords."""
    known: set[str] = set()
    config = _config_class(kind)
    if config is not None:
        known |= {field.name for field in dataclasses.fields(config)}
    for cls in kind.__mro__:
        if '__init__' not in vars(cls):
            continue
        parameters = inspect.signature(vars(cls)['__init__']).parameters.values()
        known |= {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return known - set(NOT_OPTIONS)


def _checked(kind: type, options: dict[str, Any], place: str) -> dict[str, Any]:
    known = _known(kind)
    for key in options:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f' (did you mean {close[0]!r}?)' if close else ''
            raise ConfigError(f'{place}[{key!r}]: unknown option{hint} of {kind.__name__}; known: {sorted(known)}')
    config = _config_class(kind)
    if config is not None:
        fields = {field.name for field in dataclasses.fields(config)}
        given = {key: value for key, value in options.items() if key in fields}
        if 'parallel' in options and 'num_envs' in fields and 'num_envs' not in given:
            given['num_envs'] = options['parallel']
        try:
            config(**given)  # validates every field now, before anything is built
        except ConfigError as error:
            raise _placed(error, place, given) from None
    return dict(options)


def _placed(error: ConfigError, place: str, options: Mapping[str, Any]) -> ConfigError:
    """The error with the configuration place in front: ``config['field']: why``."""
    field, _, why = str(error).partition(': ')
    if field in options or field in ('num_envs', 'parallel', 'seed'):
        return ConfigError(f'{place}[{field!r}]: {why}')
    return ConfigError(f'{place}: {error}')


def _refuse_imports(declaration: Any, place: str) -> None:
    """Safe mode for an agent that cannot resolve safely itself: a dotted type anywhere in
    a declaration must be a registered plug-in (nothing is imported)."""
    if isinstance(declaration, dict):
        kind = declaration.get('type')
        if isinstance(kind, str) and '.' in kind:
            try:
                plugins.resolve(kind, safe_mode=True)
            except ConfigError as error:
                raise ConfigError(f'{place}: {error}') from None
        for key, value in declaration.items():
            _refuse_imports(value, f'{place}[{key!r}]')
    elif isinstance(declaration, list):
        for index, value in enumerate(declaration):
            _refuse_imports(value, f'{place}[{index}]')
