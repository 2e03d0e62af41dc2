"""The command line: ``modalbridge train|evaluate|export`` (also ``python -m modalbridge``).

    modalbridge train run.json [--allow-imports] [--steps N] [--out DIR]
    modalbridge evaluate runs/cartpole/agent [--env CartPole-v1] [--episodes 100] [--seed 0]
    modalbridge export runs/cartpole/agent runs/cartpole/saved_model

`train` reads a JSON run configuration (`RunConfig`): the environment (a
Gymnasium id and its keyword arguments), the agent (a name, or a dict of
``agent`` and its options, see `modalbridge.agents.create`), the network and
the preprocessing declarations, steps, envs, seed and the output directory.
It builds everything (so checks every entry, and refuses a tokenizer vocabulary
that misses words of the task's text states) before training, runs the
`Runner`, and saves the checkpoint (``OUT/agent``) and the configuration
(``OUT/run.json``). The file is read in safe mode: declarations resolve only
registered plug-ins and an id of the form ``module:Env-v0`` (which imports
``module``) is refused, unless ``--allow-imports`` is given for a file you
trust. `evaluate` prints the mean return (and the success rate where the
environment reports ``info['success']``); `export` writes the policy as a
TensorFlow SavedModel. A bad configuration exits with status 2 and one line
naming the entry.

>>> RunConfig.from_dict(dict(environment=dict(id='CartPole-v1'), agent='ppo', steps=1000)).envs
1
>>> RunConfig.from_dict(dict(environment=dict(id='CartPole-v1'), agent='ppo', step=1000))
Traceback (most recent call last):
...
modalbridge.bridges.errors.ConfigError: config['step']: unknown key (did you mean 'steps'?); expected some of ['environment', 'agent', 'network', 'preprocessing', 'steps', 'envs', 'seed', 'out', 'minutes', 'workers']
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import json
import os
import sys
import time
from typing import Any, Mapping, Sequence

from modalbridge.bridges import arguments
from modalbridge.bridges.errors import ConfigError

RUN_FILE = 'run.json'
CHECKPOINT = 'agent'
CURVE_FILE = 'learning_curve.png'
# Agent options a run sets itself: given in config['agent'] too, one would silently win.
SET_BY_THE_RUN = dict(seed="config['seed']", num_envs="config['envs']", parallel="config['envs']",
                      states='the environment', actions='the environment')


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A training run, as `modalbridge train` reads it from JSON; every entry checked."""

    environment: Mapping[str, Any]
    """``{'id': 'CartPole-v1', 'kwargs': {...}}``: a Gymnasium id and its keyword arguments."""
    agent: Any
    """An agent name ('ppo', 'a2c', 'dqn'...) or a dict of ``agent`` and its options."""
    network: Any = None
    """The network declaration (None: the agent's default)."""
    preprocessing: Any = None
    """The state preprocessing declaration (None: none)."""
    steps: int = 100_000
    """Environment steps to train, over all environments."""
    envs: int = 1
    """Environments acting in parallel (the agent's num_envs)."""
    seed: int = 0
    """Seeds the agent and the environments' first resets."""
    out: str = os.path.join('runs', 'train')
    """Where the checkpoint (``OUT/agent``), ``run.json`` and the learning curve go."""
    minutes: float | None = None
    """A wall-time limit on training (None: only `steps`)."""
    workers: int = 0
    """Worker processes acting while the agent learns (the asynchronous mode, a PPO or an A2C; `envs`
    split evenly over them); 0: the serial loop."""

    def __post_init__(self) -> None:
        environment = self.environment
        if not isinstance(environment, Mapping):
            raise ConfigError(f"config['environment']: expected a dict with 'id' (and optionally 'kwargs'); "
                              f'received {environment!r}')
        for key in environment:
            if key not in ('id', 'kwargs'):
                raise ConfigError(f"config['environment'][{key!r}]: unknown key; expected ['id', 'kwargs']")
        if not isinstance(environment.get('id'), str):
            raise ConfigError(f"config['environment']['id']: expected a Gymnasium id such as 'CartPole-v1'; "
                              f"received {environment.get('id')!r}")
        if not isinstance(environment.get('kwargs', {}), Mapping):
            raise ConfigError(f"config['environment']['kwargs']: expected a dict of keyword arguments; "
                              f"received {environment['kwargs']!r}")
        if not isinstance(self.agent, (str, Mapping)):
            raise ConfigError(f"config['agent']: expected an agent name or a dict of 'agent' and its options; "
                              f'received {self.agent!r}')
        if self.preprocessing is not None and not isinstance(self.preprocessing, (Mapping, list)):
            raise ConfigError(f"config['preprocessing']: expected a dict of per-state lists (or one list); "
                              f'received {self.preprocessing!r} (a config holds the declaration itself, never a path)')
        for key, owner in SET_BY_THE_RUN.items():
            if isinstance(self.agent, Mapping) and key in self.agent:
                raise ConfigError(f"config['agent'][{key!r}]: set by {owner}, not here")
        for key in ('network', 'preprocessing'):
            if isinstance(self.agent, Mapping) and key in self.agent and getattr(self, key) is not None:
                raise ConfigError(f"config['agent'][{key!r}]: given twice (also config[{key!r}]); keep one")
        object.__setattr__(self, 'steps', arguments.integer("config['steps']", self.steps, minimum=1))
        object.__setattr__(self, 'envs', arguments.integer("config['envs']", self.envs, minimum=1))
        object.__setattr__(self, 'seed', arguments.integer("config['seed']", self.seed, minimum=0))
        object.__setattr__(self, 'workers', arguments.integer("config['workers']", self.workers, minimum=0))
        if self.workers and self.envs % self.workers:
            raise ConfigError(f"config['workers']: the {self.envs} environments of config['envs'] do not split "
                              f'evenly over {self.workers} workers; choose a divisor')
        if self.minutes is not None:
            object.__setattr__(self, 'minutes', arguments.number("config['minutes']", self.minutes, minimum=0,
                                                                 inclusive=False))
        if not isinstance(self.out, str) or not self.out:
            raise ConfigError(f"config['out']: expected a directory path; received {self.out!r}")

    @classmethod
    def from_dict(cls, document: Any) -> 'RunConfig':
        """The run from a JSON document; unknown or missing keys are a ConfigError naming them."""
        if not isinstance(document, Mapping):
            raise ConfigError(f'config: expected a JSON object; received {type(document).__name__}')
        known = [field.name for field in dataclasses.fields(cls)]
        for key in document:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f' (did you mean {close[0]!r}?)' if close else ''
                raise ConfigError(f'config[{key!r}]: unknown key{hint}; expected some of {known}')
        for key in ('environment', 'agent'):
            if key not in document:
                raise ConfigError(f'config[{key!r}]: missing')
        return cls(**document)

    def to_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def agent_declaration(self) -> dict[str, Any]:
        """The agent's dict for `Agent.create`, with the network and the preprocessing."""
        declaration = dict(self.agent) if isinstance(self.agent, Mapping) else dict(agent=self.agent)
        for key in ('network', 'preprocessing'):
            if getattr(self, key) is not None:
                declaration[key] = getattr(self, key)
        return declaration


def make_env(environment: Mapping[str, Any], safe_mode: bool) -> Any:
    """The bridged Gymnasium environment; in safe mode an id that imports a module is refused."""
    from modalbridge.bridges import GymBridge

    if safe_mode and ':' in environment['id']:
        raise ConfigError(f"config['environment']['id']: {environment['id']!r} would import the module "
                          f"{environment['id'].split(':')[0]!r}; pass --allow-imports for a file you trust")
    try:
        return GymBridge(environment['id'], **dict(environment.get('kwargs', {})))
    except ConfigError as error:
        raise ConfigError(f"config['environment']: {error}") from None


def check_vocabulary(config: RunConfig, safe_mode: bool = True, episodes: int = 20) -> dict[str, float]:
    """The unknown-token rate of every tokenized text state on the first states of a few
    episodes; a vocabulary missing words of the task is refused, naming the state."""
    import numpy as np

    from modalbridge.bridges.specs import is_text
    from modalbridge.preprocess import Stack

    if config.preprocessing is None:
        return {}
    env = make_env(config.environment, safe_mode)
    try:
        texts = [name for name, spec in env.states.items() if is_text(spec)]
        if not texts:
            return {}
        try:
            stack = Stack(env.states, config.preprocessing, backend='numpy', safe_mode=safe_mode)
        except ConfigError as error:
            raise ConfigError(f"config['preprocessing']: {error}") from None
        tokens = {name: 0 for name in texts}
        unknown = {name: 0 for name in texts}
        examples: dict[str, list[str]] = {name: [] for name in texts}
        for seed in range(config.seed, config.seed + episodes):
            states = env.reset(seed=seed)
            stack.reset()
            out = stack({name: np.asarray(value, dtype=object if name in texts else None)[None]
                         for name, value in states.items()})
            for name in texts:
                ids = out.get(name)
                if ids is None or not np.issubdtype(ids.dtype, np.integer):
                    continue
                tokens[name] += int(np.count_nonzero(ids))
                unknown[name] += int(np.count_nonzero(ids == 1))  # id 1: an unknown token (DESIGN.md)
                if (ids == 1).any():
                    examples[name].append(str(np.asarray(states[name]).item()))
    finally:
        env.close()
    rates = {name: unknown[name] / tokens[name] for name in texts if tokens[name]}
    for name, rate in rates.items():
        if rate:
            raise ConfigError(f"config['preprocessing'][{name!r}]: the tokenizer's vocabulary misses {rate:.1%} of "
                              f'the words of the first {name}s of {episodes} episodes, such as in '
                              f'{sorted(set(examples[name]))[:3]}')
    return rates


def train(config: RunConfig, safe_mode: bool = True, progress: bool = True) -> dict[str, Any]:
    """Builds the environments and the agent, trains, saves; returns the numbers it printed.

    Training stops after `config.steps` steps, `config.minutes` minutes or a Ctrl-C (KeyboardInterrupt),
    whichever comes first; the agent trained so far is saved in every case (``interrupted`` tells).
    """
    from modalbridge.agents import Runner
    from modalbridge.agents.create import create
    from modalbridge.bridges import VectorEnvironment

    check_vocabulary(config, safe_mode)
    envs = VectorEnvironment([make_env(config.environment, safe_mode) for _ in range(config.envs)])
    interrupted, runner = False, None
    try:
        try:
            agent = create(config.agent_declaration(), envs, seed=config.seed, safe_mode=safe_mode)
        except ConfigError as error:
            raise ConfigError(_placed(str(error))) from None
        if config.workers:  # the workers build their own environments; the ones here only described them
            envs.close()
            factory = functools.partial(make_env, dict(config.environment), safe_mode)
            try:
                runner = Runner(agent, factory, seed=config.seed, asynchronous=True, workers=config.workers)
            except ConfigError as error:
                raise ConfigError(f"config['workers']: {error}") from None
        else:
            runner = Runner(agent, envs, seed=config.seed)
        limit = f' or {config.minutes:g} minutes' if config.minutes is not None else ''
        print(f'training {type(agent).__name__} on {config.environment["id"]} with {config.envs} environment(s) '
              f'for up to {config.steps:,} steps{limit}', flush=True)
        start = time.perf_counter()
        deadline = None if config.minutes is None else start + 60 * config.minutes
        try:
            runner.run(timesteps=config.steps, progress=progress,
                       callback=None if deadline is None else lambda _: time.perf_counter() < deadline)
        except KeyboardInterrupt:
            interrupted = True
            print('\ninterrupted: saving the agent trained so far', flush=True)
        seconds = time.perf_counter() - start
    finally:
        envs.close()
        if runner is not None:
            runner.close()
    history = runner.history
    os.makedirs(config.out, exist_ok=True)
    saved = agent.save(os.path.join(config.out, CHECKPOINT))
    with open(os.path.join(config.out, RUN_FILE), 'w', encoding='utf-8') as file:
        json.dump(config.to_dict(), file, indent=2)
    if history.episodes:
        history.plot(os.path.join(config.out, CURVE_FILE))
    last = min(history.episodes, 500)
    mean = history.mean_return(last) if last else float('nan')
    print(f'trained {runner.timesteps:,} steps ({history.episodes:,} episodes, {agent.updates:,} updates) in '
          f'{seconds:.0f} s ({runner.timesteps / max(seconds, 1e-9):,.0f} steps/s); mean training return '
          f'(last {last} episodes) {mean:.3f}', flush=True)
    print(f'saved the agent to {saved}', flush=True)
    return dict(agent=agent, checkpoint=saved, timesteps=runner.timesteps, episodes=history.episodes,
                mean_return=mean, seconds=seconds, interrupted=interrupted, history=history)


def evaluate(checkpoint: str, environment: Mapping[str, Any] | None, episodes: int, seed: int,
             deterministic: bool, safe_mode: bool = True) -> Any:
    """The checkpoint's agent on fresh episodes; prints and returns the `Evaluation`."""
    from modalbridge.agents import Agent
    from modalbridge.agents.evaluation import evaluate as run_episodes

    if environment is None:
        environment = _saved_environment(checkpoint)
    agent = Agent.load(checkpoint)
    env = make_env(environment, safe_mode)
    try:
        result = run_episodes(agent, env, episodes, deterministic=deterministic, seed=seed)
    finally:
        env.close()
    line = (f'{type(agent).__name__} on {environment["id"]}: {result.episodes} episodes, mean return '
            f'{result.mean_return:.3f} (std {result.std_return:.3f}), mean length {result.mean_length:.1f}')
    if result.successes is not None:
        line += f', success rate {result.success_rate:.1%}'
    print(line, flush=True)
    return result


def export(checkpoint: str, out: str, batch_size: int | None = None) -> str:
    """Writes the checkpoint's deterministic policy as a TensorFlow SavedModel at `out`."""
    from modalbridge.agents import Agent

    agent = Agent.load(checkpoint)
    if not hasattr(agent, 'export'):
        raise ConfigError(f'export: a {type(agent).__name__} has no exportable policy')
    path = agent.export(out, batch_size)
    print(f'exported the policy of {checkpoint} to {path}', flush=True)
    return path


def _placed(message: str) -> str:
    """`create`'s error, placed in the run file: its options are ``config['agent'][...]`` there
    (the network and the preprocessing keep their top-level names)."""
    if message.startswith('config[') and not message.startswith(("config['network']", "config['preprocessing']")):
        return "config['agent']" + message[len('config'):]
    if message.startswith('config:'):
        return "config['agent']" + message[len('config'):]
    return message


def _saved_environment(checkpoint: str) -> Mapping[str, Any]:
    """The environment of the run that wrote `checkpoint` (its ``run.json``, one level up)."""
    from modalbridge.agents.checkpoint import load_json

    run = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), RUN_FILE)
    if not os.path.exists(run):
        raise ConfigError(f'evaluate: no --env given and no {RUN_FILE} beside {checkpoint!r} to take it from')
    return RunConfig.from_dict(load_json(run, 'evaluate')).environment


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog='modalbridge', description='Train, evaluate and export modalbridge agents.')
    commands = main.add_subparsers(dest='command', required=True)
    train_ = commands.add_parser('train', help='train an agent from a JSON run configuration')
    train_.add_argument('config', help='a JSON file (see modalbridge.cli.RunConfig)')
    train_.add_argument('--steps', type=int, help="overrides config['steps']")
    train_.add_argument('--seed', type=int, help="overrides config['seed']")
    train_.add_argument('--out', help="overrides config['out']")
    train_.add_argument('--minutes', type=float, help="overrides config['minutes'] (a wall-time limit)")
    train_.add_argument('--allow-imports', action='store_true',
                        help='let the file import code (dotted types, module:Env ids): only for files you trust')
    train_.add_argument('--no-progress', action='store_true', help='no progress bar or periodic lines')
    evaluate_ = commands.add_parser('evaluate', help="print a checkpoint's mean return and success rate")
    evaluate_.add_argument('checkpoint')
    evaluate_.add_argument('--env', help="a Gymnasium id (default: the run's, from run.json beside the checkpoint)")
    evaluate_.add_argument('--env-kwargs', default='{}', help='the environment keyword arguments, as JSON')
    evaluate_.add_argument('--episodes', type=int, default=100)
    evaluate_.add_argument('--seed', type=int, default=1_000_000, help='the first reset seed (default 1000000)')
    evaluate_.add_argument('--sample', action='store_true', help='sample the actions (default: the mode)')
    evaluate_.add_argument('--allow-imports', action='store_true', help='allow a module:Env-v0 id')
    export_ = commands.add_parser('export', help='write the policy as a TensorFlow SavedModel')
    export_.add_argument('checkpoint')
    export_.add_argument('out')
    export_.add_argument('--batch-size', type=int, help='a fixed batch size (default: any)')
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line (the console script's entry point); returns the exit status 0.
    A ConfigError exits with status 2 and its message."""
    run(argv)
    return 0


def run(argv: Sequence[str] | None = None) -> Any:
    """Runs the command line; returns what the command returned (for use from Python)."""
    args = parser().parse_args(argv)
    try:
        if args.command == 'train':
            from modalbridge.agents.checkpoint import load_json

            document = load_json(args.config, 'config')
            if isinstance(document, dict):
                document.update({key: getattr(args, key) for key in ('steps', 'seed', 'out', 'minutes')
                                 if getattr(args, key) is not None})
            return train(RunConfig.from_dict(document), safe_mode=not args.allow_imports,
                         progress=not args.no_progress)
        if args.command == 'evaluate':
            environment = None
            if args.env is not None:
                kwargs = json.loads(args.env_kwargs) if args.env_kwargs else {}
                environment = RunConfig(environment=dict(id=args.env, kwargs=kwargs), agent='random').environment
            episodes = arguments.integer('--episodes', args.episodes, minimum=1)
            return evaluate(args.checkpoint, environment, episodes, arguments.integer('--seed', args.seed, minimum=0),
                            deterministic=not args.sample, safe_mode=not args.allow_imports)
        batch_size = None if args.batch_size is None else arguments.integer('--batch-size', args.batch_size,
                                                                            minimum=1)
        return export(args.checkpoint, args.out, batch_size)
    except json.JSONDecodeError as error:
        print(f'modalbridge {args.command}: --env-kwargs is not valid JSON: {error}', file=sys.stderr)
        raise SystemExit(2) from None
    except ConfigError as error:
        print(f'modalbridge {args.command}: configuration error: {error}', file=sys.stderr)
        raise SystemExit(2) from None
