"""The main demo: an agent that must read the caption to find its way.

    python examples/image_caption.py [--steps N] [--seed S] [--envs E] [--minutes M]
                                     [--config demo.json [--allow-imports]] [--out runs/image_caption]

The built-in `modalbridge/CaptionRoom-v0` shows a room with three coloured
objects and a caption naming one ("go to the blue triangle"). The pipeline:

    GymBridge (image + caption states, a named `move` action)
      -> Stack: normalize the image, tokenize the caption
      -> A2C with the 'auto' multi-input network (a convolution per 5-pixel
         grid cell on the image, embedding + LSTM on the caption, the caption
         modulating the image features by FiLM) over a VectorEnvironment

After training it evaluates the agent (sampling its actions) on fresh seeds with the true
captions and with captions naming another object of the room, next to a
random agent, prints the table, saves the agent and writes an image strip
of a few evaluation episodes. Reaching the named object needs the caption:
an agent that ignores it succeeds in at most 1/3 of the episodes.

The same run can be declared in JSON (``--config``): a dict with the keys
environment, preprocessing, network, agent, envs, steps, seed (see
``DEFAULT_CONFIG``); a bad entry is refused before training starts, naming
it. A config file is read in safe mode: dotted types in the preprocessing or
the network resolve only to registered plug-ins, and a Gymnasium id of the
form ``module:Env-v0`` (which imports ``module``) is refused, unless you
pass ``--allow-imports`` for a file you trust. The run's configuration is
saved beside the agent (``run.json``), by value.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import inspect
import json
import os
import sys
import time
from typing import Any

import numpy as np

from modalbridge.agents import A2C, RandomAgent, Runner
from modalbridge.agents.checkpoint import load_json
from modalbridge.agents.evaluation import evaluate as evaluate_policy
from modalbridge.bridges import ConfigError, Environment, GymBridge, VectorEnvironment, plugins
from modalbridge.bridges.arguments import integer
from modalbridge.bridges.specs import is_text
from modalbridge.envs.caption_room import CaptionRoom
from modalbridge.preprocess import Stack

DEFAULT_CONFIG: dict[str, Any] = dict(
    environment=dict(id='modalbridge/CaptionRoom-v0', kwargs=dict(shaping=0.1)),
    preprocessing=dict(image=[dict(type='normalize')],
                       caption=[dict(type='tokenize', length=6, vocabulary=CaptionRoom().vocabulary)]),
    network=dict(type='auto', patch=5),  # one feature vector per 5-pixel grid cell
    agent=dict(n_steps=5, optimizer='adam', learning_rate=1e-3, entropy_coef=0.01, discount=0.99,
               shared_network=True),
    envs=32,
    steps=1_000_000,
    seed=0,
)
CONFIG_KEYS = tuple(DEFAULT_CONFIG)
ENVIRONMENT_KEYS = ('id', 'kwargs')
SET_BY_THE_DEMO = dict(states='the environment', actions='the environment', parallel="config['envs']",
                       num_envs="config['envs']", seed="config['seed']", network="config['network']",
                       preprocessing="config['preprocessing']")
EVALUATION_EPISODES = 300
RUN_FILE = 'run.json'


def load_config(path: str | os.PathLike | None, overrides: dict[str, Any],
                allow_imports: bool = False) -> dict[str, Any]:
    """The run's configuration: defaults, then the JSON file, then flags; every entry checked.

    A file is read in safe mode unless `allow_imports` (see the module docstring).
    """
    config = copy.deepcopy(DEFAULT_CONFIG)
    if path is not None:
        document = load_json(path, 'config')
        if not isinstance(document, dict):
            raise ConfigError(f'config: {os.fspath(path)!r} must hold a JSON object with some of {list(CONFIG_KEYS)}; '
                              f'it holds a {type(document).__name__}')
        for key, value in document.items():
            if key not in CONFIG_KEYS:
                raise ConfigError(f'config[{key!r}]: unknown key{_did_you_mean(key, CONFIG_KEYS)}; '
                                  f'expected some of {list(CONFIG_KEYS)}')
            config[key] = value
    config.update({key: value for key, value in overrides.items() if value is not None})
    check_config(config, safe_mode=path is not None and not allow_imports)
    return config


def check_config(config: dict[str, Any], safe_mode: bool) -> None:
    """Refuses a bad entry with a ConfigError naming it (types, keys, and in safe mode what would import code)."""
    environment = config['environment']
    if not isinstance(environment, dict):
        raise ConfigError(f"config['environment']: expected a dict with 'id' (and optionally 'kwargs'); "
                          f'received {type(environment).__name__}')
    for key in environment:
        if key not in ENVIRONMENT_KEYS:
            raise ConfigError(f"config['environment'][{key!r}]: unknown key; expected {list(ENVIRONMENT_KEYS)}")
    if 'id' not in environment:
        raise ConfigError("config['environment']['id']: missing; give a Gymnasium id such as "
                          "'modalbridge/CaptionRoom-v0'")
    if not isinstance(environment['id'], str):
        raise ConfigError(f"config['environment']['id']: expected a string; received {environment['id']!r}")
    if safe_mode and ':' in environment['id']:
        raise ConfigError(f"config['environment']['id']: {environment['id']!r} would import the module "
                          f"{environment['id'].split(':')[0]!r}; a config file cannot import code unless you pass "
                          '--allow-imports (load_config(..., allow_imports=True)) for a file you trust')
    kwargs = environment.get('kwargs', {})
    if not isinstance(kwargs, dict):
        raise ConfigError(f"config['environment']['kwargs']: expected a dict of keyword arguments; "
                          f'received {type(kwargs).__name__}')
    config['envs'] = integer("config['envs']", config['envs'], minimum=1)
    config['steps'] = integer("config['steps']", config['steps'], minimum=1)
    config['seed'] = integer("config['seed']", config['seed'], minimum=0)
    preprocessing = config['preprocessing']
    if not isinstance(preprocessing, (dict, list)):
        raise ConfigError(f"config['preprocessing']: expected a dict of per-state lists (or one list); "
                          f'received {type(preprocessing).__name__}')
    if safe_mode:
        _refuse_unregistered(preprocessing, "config['preprocessing']")
    network = config['network']
    if isinstance(network, str) and network != 'auto':
        raise ConfigError(f"config['network']: expected 'auto' or a declaration (a dict or a list); received the "
                          f'string {network!r} (a config holds the declaration itself, never a path)')
    if not isinstance(network, (str, dict, list)):
        raise ConfigError(f"config['network']: expected 'auto' or a declaration (a dict or a list); "
                          f'received {type(network).__name__}')
    check_agent_options(config['agent'], A2C)


def check_agent_options(options: Any, agent_class: type) -> None:
    """Checks the agent's options against its signature (or its `Config` dataclass's fields)."""
    if not isinstance(options, dict):
        raise ConfigError(f"config['agent']: expected a dict of the agent's options; received {type(options).__name__}")
    fields = _agent_fields(agent_class)
    _check_typed_config(options, agent_class)
    for key, value in options.items():
        place = f"config['agent'][{key!r}]"
        if key in SET_BY_THE_DEMO:
            raise ConfigError(f'{place}: set by {SET_BY_THE_DEMO[key]}, not here')
        if key not in fields:
            raise ConfigError(f'{place}: unknown option{_did_you_mean(key, fields)} of {agent_class.__name__}; '
                              f'known: {sorted(k for k in fields if k not in SET_BY_THE_DEMO)}')
        default = fields[key]
        if default is inspect.Parameter.empty or default is None:
            continue
        # the options of a signature without a Config dataclass are typed by their defaults
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f'{place}: expected true or false; received {value!r}')
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f'{place}: expected a number; received {value!r}')
            if isinstance(default, int) and not isinstance(value, int):
                raise ConfigError(f'{place}: expected an int; received {value!r}')
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f'{place}: expected a string; received {value!r}')


def _check_typed_config(options: dict, agent_class: type) -> None:
    """An agent with a typed `Config` dataclass validates every field itself: build it now, before training."""
    config_class = getattr(agent_class, 'Config', None)
    if not dataclasses.is_dataclass(config_class):
        return
    known = {field.name for field in dataclasses.fields(config_class)}
    given = {key: value for key, value in options.items() if key in known and key not in SET_BY_THE_DEMO}
    try:
        config_class(**given)
    except ConfigError as error:
        field, _, why = str(error).partition(': ')
        raise ConfigError(f"config['agent'][{field!r}]: {why}" if field in known
                          else f"config['agent']: {error}") from None


def _agent_fields(agent_class: type) -> dict[str, Any]:
    config_class = getattr(agent_class, 'Config', None)
    if dataclasses.is_dataclass(config_class):  # typed configs validate their own fields; only names here
        return {field.name: None for field in dataclasses.fields(config_class)}
    parameters = inspect.signature(agent_class).parameters.values()
    return {p.name: p.default for p in parameters
            if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}


def _refuse_unregistered(declaration: Any, place: str) -> None:
    """Safe mode: a dotted type anywhere in a declaration must be a registered plug-in (nothing imported)."""
    if isinstance(declaration, dict):
        kind = declaration.get('type')
        if isinstance(kind, str) and '.' in kind:
            _resolve_safely(kind, place)
        for key, value in declaration.items():
            _refuse_unregistered(value, f'{place}[{key!r}]')
    elif isinstance(declaration, list):
        for index, value in enumerate(declaration):
            if isinstance(value, str) and '.' in value:
                _resolve_safely(value, f'{place}[{index}]')
            _refuse_unregistered(value, f'{place}[{index}]')


def _resolve_safely(kind: str, place: str) -> None:
    try:
        plugins.resolve(kind, safe_mode=True)
    except ConfigError as error:
        raise ConfigError(f'{place}: {error} (or pass --allow-imports)') from None


def _did_you_mean(key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f' (did you mean {close[0]!r}?)' if close else ''


def make_env(config: dict[str, Any], **kwargs: Any) -> GymBridge:
    environment = config['environment']
    return GymBridge(environment['id'], **{**environment.get('kwargs', {}), **kwargs})


class Recorded(Environment):
    """The environment as it is, keeping its first `record` frames (image, caption, episode) for the strip."""

    def __init__(self, env: GymBridge, record: int):
        self.env, self.record, self.frames, self.episode = env, record, [], -1
        super().__init__(env.states, env.actions)

    def _keep(self, states: dict[str, Any]) -> dict[str, Any]:
        if len(self.frames) < self.record:
            self.frames.append((states['image'], str(states['caption'].item()), self.episode))
        return states

    def _reset(self, seed):
        self.episode += 1
        return self._keep(self.env.reset(seed=seed))

    def _execute(self, actions):
        step = self.env.execute(actions)
        return step._replace(states=self._keep(step.states))

    def _close(self):
        self.env.close()


def check_vocabulary(config: dict[str, Any], episodes: int = 32) -> None:
    """Refuses a tokenizer vocabulary that misses words of the task's text states, found on the
    first states of a few episodes (token id 1 is 'unknown', DESIGN.md)."""
    env = make_env(config)
    texts = [name for name, spec in env.states.items() if is_text(spec)]
    if not texts:
        return
    stack = Stack(env.states, config['preprocessing'], backend='numpy')
    missed: dict[str, list[str]] = {name: [] for name in texts}
    for seed in range(episodes):
        states = env.reset(seed=seed)
        stack.reset()
        out = stack({name: np.asarray(value, dtype=object if name in texts else None)[None]
                     for name, value in states.items()})
        for name in texts:
            if name in out and np.issubdtype(out[name].dtype, np.integer) and (out[name] == 1).any():
                missed[name].append(str(states[name].item()))
    env.close()
    for name, captions in missed.items():
        if captions:
            raise ConfigError(f"config['preprocessing'][{name!r}]: the tokenizer's vocabulary misses words of the "
                              f'task: {len(captions)} of {episodes} first {name}s have unknown words, such as '
                              f'{sorted(set(captions))[:3]}')


def build(config: dict[str, Any], safe_mode: bool = False) -> tuple[VectorEnvironment, A2C]:
    """Everything the run needs, built (and so checked) before any training.

    The agent holds its preprocessing (run inside its compiled act, and saved with it), so it acts on the
    environment's raw states, in training, in evaluation and after `Agent.load`.
    """
    envs = VectorEnvironment([make_env(config) for _ in range(config['envs'])])
    check_vocabulary(config)
    agent = A2C(envs.states, envs.actions, network=config['network'], preprocessing=config['preprocessing'],
                num_envs=config['envs'], seed=config['seed'], safe_mode=safe_mode, **config['agent'])
    return envs, agent


def evaluate(config: dict[str, Any], agent: Any, swap: bool, seed: int, episodes: int,
             frames: list | None = None, deterministic: bool = False) -> dict[str, float]:
    """Success rate (the target reached, ``info['success']``) and mean return on fresh seeds;
    the policy samples its actions unless `deterministic`."""
    env = Recorded(make_env(config, swap_caption=swap), record=24 if frames is not None else 0)
    result = evaluate_policy(agent, env, episodes, deterministic=deterministic, seed=seed,
                             success=lambda info: bool(info.get('success', False)))
    if frames is not None:
        frames.extend(env.frames)
    return dict(success=result.success_rate, mean_return=result.mean_return)


def image_strip(frames: list, path: str) -> str:
    """A PNG of evaluation frames, upscaled, each with its caption written under it."""
    import cv2
    tiles = []
    for image, caption, episode in frames[:24]:
        big = cv2.resize(image, None, fx=5, fy=5, interpolation=cv2.INTER_NEAREST)
        tile = np.full((big.shape[0] + 34, big.shape[1] + 6, 3), 255, np.uint8)
        tile[3:3 + big.shape[0], 3:3 + big.shape[1]] = big
        cv2.putText(tile, caption.replace('go to the ', ''), (4, big.shape[0] + 16), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(tile, f'episode {episode + 1}', (4, big.shape[0] + 30), cv2.FONT_HERSHEY_SIMPLEX,
                    0.33, (90, 90, 90), 1, cv2.LINE_AA)
        tiles.append(tile)
    columns = 8
    while len(tiles) % columns:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.concatenate(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    cv2.imwrite(path, cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    return path


def train(config: dict[str, Any], minutes: float | None, out: str, safe_mode: bool = False) -> dict[str, Any]:
    envs, agent = build(config, safe_mode)
    runner = Runner(agent, envs, seed=config['seed'])
    deadline = None if minutes is None else time.perf_counter() + 60 * minutes
    print(f"training A2C on {config['environment']['id']} with {config['envs']} environments for up to "
          f"{config['steps']:,} steps" + (f' or {minutes:g} minutes' if minutes else ''), flush=True)
    start, interrupted = time.perf_counter(), False
    try:
        history = runner.run(timesteps=config['steps'],
                             callback=lambda r: deadline is None or time.perf_counter() < deadline)
        steps = history.timesteps
    except KeyboardInterrupt:
        interrupted, steps = True, runner.timesteps
        print('\ninterrupted: saving the agent trained so far', flush=True)
    seconds = time.perf_counter() - start
    recent = runner.episode_returns[-500:]
    os.makedirs(out, exist_ok=True)
    saved = agent.save(os.path.join(out, 'agent'))
    with open(os.path.join(out, RUN_FILE), 'w', encoding='utf-8') as file:
        json.dump(config, file, indent=2)
    if runner.episodes:
        runner.history.plot(os.path.join(out, 'learning_curve.png'))
    print(f'trained {steps:,} steps ({runner.episodes:,} episodes) in {seconds:.0f} s '
          f'({steps / max(seconds, 1e-9):,.0f} steps/s); mean training return (last 500 episodes) '
          f'{np.mean(recent) if recent else float("nan"):.3f}', flush=True)
    print(f'saved the agent to {saved}', flush=True)
    return dict(agent=agent, steps=steps, seconds=seconds, interrupted=interrupted)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description='A2C that reads captions: image + text -> action')
    parser.add_argument('--steps', type=int, help='environment steps to train (default 1,000,000)')
    parser.add_argument('--seed', type=int)
    parser.add_argument('--envs', type=int, help='parallel environments (default 32)')
    parser.add_argument('--minutes', type=float, default=5.0, help='training time limit (default 5)')
    parser.add_argument('--episodes', type=int, default=EVALUATION_EPISODES, help='evaluation episodes per row')
    parser.add_argument('--config', help='a JSON file declaring the run (see DEFAULT_CONFIG)')
    parser.add_argument('--allow-imports', action='store_true',
                        help='let the config file import code (dotted types, module:Env ids): only for files you trust')
    parser.add_argument('--out', default=os.path.join('runs', 'image_caption'), help='where to save the agent and PNG')
    args = parser.parse_args(argv)
    for flag in ('steps', 'envs', 'episodes'):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f'--{flag} must be a positive integer; received {value}')
    if args.minutes <= 0:
        parser.error(f'--minutes must be positive; received {args.minutes}')
    try:
        config = load_config(args.config, dict(steps=args.steps, seed=args.seed, envs=args.envs),
                             allow_imports=args.allow_imports)
        result = train(config, args.minutes, args.out, safe_mode=args.config is not None and not args.allow_imports)
    except ConfigError as error:
        print(f'configuration error: {error}', file=sys.stderr)
        raise SystemExit(2) from None
    if result['interrupted']:
        return result

    agent, seed = result['agent'], 1_000_000 + config['seed'] * 10_000
    env = make_env(config)
    random_agent = RandomAgent(env.states, env.actions, seed=config['seed'])
    frames: list = []
    rows = [('A2C, true captions', evaluate(config, agent, False, seed, args.episodes, frames)),
            ('A2C, swapped captions', evaluate(config, agent, True, seed, args.episodes)),
            ('random agent', evaluate(config, random_agent, False, seed, args.episodes))]
    objects = CaptionRoom(**config['environment'].get('kwargs', {})).num_objects
    print(f'\nevaluation on {args.episodes} fresh episodes per row (1/K = 1/{objects} = '
          f'{1 / objects:.1%} is the best an agent ignoring the caption can do)')
    print(f"{'':24s} {'success':>8s} {'mean return':>12s}")
    for name, row in rows:
        print(f"{name:24s} {row['success']:8.1%} {row['mean_return']:12.3f}")
    strip = image_strip(frames, os.path.join(args.out, 'evaluation_strip.png'))
    print(f'\nwrote the image strip of {min(len(frames), 24)} evaluation frames to {strip}')
    result.update(true=rows[0][1], swapped=rows[1][1], random=rows[2][1], strip=strip)
    return result


if __name__ == '__main__':
    main()
