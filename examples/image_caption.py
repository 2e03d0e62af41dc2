"""The main demo: an agent that must read the caption to find its way.

    python examples/image_caption.py [--steps N] [--seed S] [--envs E] [--minutes M]
                                     [--config demo.json [--allow-imports]] [--out runs/image_caption]

The built-in `modalbridge/CaptionRoom-v0` shows a room with three coloured
objects and a caption naming one ("go to the blue triangle"). The pipeline:

    GymBridge (image + caption states, a named `move` action)
      -> Stack: normalize the image, tokenize the caption
      -> PPO with the 'auto' multi-input network (a convolution per 5-pixel
         grid cell on the image, embedding + LSTM on the caption, the caption
         modulating the image features by FiLM) over a VectorEnvironment

After training it evaluates the agent (sampling its actions) on fresh seeds with the true
captions and with captions naming another object of the room, next to a
random agent, prints the table, saves the agent and writes an image strip
of a few evaluation episodes. Reaching the named object needs the caption:
an agent that ignores it succeeds in at most 1/3 of the episodes.

Training is the command line's (`modalbridge.cli.train`, what ``modalbridge
train run.json`` runs): the same schema (`modalbridge.cli.RunConfig`), the
agent built by `Agent.create`, the same checks and files. The run can be
declared in JSON (``--config``): a dict with some of the keys environment,
preprocessing, network, agent, envs, steps, seed (see ``DEFAULT_CONFIG``; each
replaces the default's entry whole, except an ``agent`` dict without an
``agent`` name: its options replace the default PPO's one by one); a bad entry is refused before training
starts, naming it. ``modalbridge train`` on a file holding ``DEFAULT_CONFIG``
trains the same agent (without this script's evaluation table and strip). A config file is read in safe mode: dotted types in the preprocessing or
the network resolve only to registered plug-ins, and a Gymnasium id of the
form ``module:Env-v0`` (which imports ``module``) is refused, unless you
pass ``--allow-imports`` for a file you trust. The run's configuration is
saved beside the agent (``run.json``), by value.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from typing import Any

import numpy as np

from modalbridge import cli
from modalbridge.agents import RandomAgent
from modalbridge.agents.checkpoint import load_json
from modalbridge.agents.evaluation import evaluate as evaluate_policy
from modalbridge.bridges import ConfigError, Environment, GymBridge
from modalbridge.envs.caption_room import CaptionRoom

DEFAULT_CONFIG: dict[str, Any] = dict(
    environment=dict(id='modalbridge/CaptionRoom-v0', kwargs=dict(shaping=0.1)),
    preprocessing=dict(image=[dict(type='normalize')],
                       caption=[dict(type='tokenize', length=6, vocabulary=CaptionRoom().vocabulary)]),
    network=dict(type='auto', patch=5),  # one feature vector per 5-pixel grid cell
    # PPO with MiniGrid GoToObject's settings (examples/minigrid_caption.py): learns in ~60k steps, where
    # A2C (n_steps=5, Adam 1e-3, 32 envs) needed ~260k and reached 72% in 120 CPU-s (README)
    agent=dict(agent='ppo', n_steps=128, batch_size=256, epochs=4, learning_rate=1e-3, entropy_coef=0.01,
               gae_lambda=0.95, discount=0.99, clip_range=0.2, max_grad_norm=0.5, shared_network=True),
    envs=16,
    steps=1_000_000,
    seed=0,
)
CONFIG_KEYS = tuple(DEFAULT_CONFIG)
MINUTES = 2.0  # the training time limit (--minutes); what PPO reaches in it: the README
EVALUATION_EPISODES = 300


def load_config(path: str | os.PathLike | None, overrides: dict[str, Any],
                allow_imports: bool = False) -> cli.RunConfig:
    """The run's configuration: the defaults, each replaced by the JSON file's entry, then the flags;
    every entry checked by `modalbridge.cli.RunConfig` (the command line's schema).

    A file is read in safe mode unless `allow_imports` (see the module docstring); the demo trains in
    that mode too, so the file's declarations resolve only registered plug-ins.
    """
    document = copy.deepcopy(DEFAULT_CONFIG)
    if path is not None:
        loaded = load_json(path, 'config')
        if not isinstance(loaded, dict):
            raise ConfigError(f'config: {os.fspath(path)!r} must hold a JSON object with some of {list(CONFIG_KEYS)}; '
                              f'it holds a {type(loaded).__name__}')
        agent = loaded.get('agent')
        if isinstance(agent, dict) and not {'agent', 'type'} & set(agent):
            # options without an agent's name are the default agent's (PPO's): each replaces its default
            loaded = dict(loaded, agent={**document['agent'], **agent})
        document.update(loaded)
    document.update({key: value for key, value in overrides.items() if value is not None})
    config = cli.RunConfig.from_dict(document)
    if path is not None and not allow_imports and ':' in config.environment['id']:
        cli.make_env(config.environment, safe_mode=True)  # raises, naming the module it would import
    return config


def make_env(config: cli.RunConfig, **kwargs: Any) -> GymBridge:
    environment = config.environment
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


def evaluate(config: cli.RunConfig, agent: Any, swap: bool, seed: int, episodes: int,
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


def train(config: cli.RunConfig, minutes: float | None, out: str, safe_mode: bool = False) -> dict[str, Any]:
    """`modalbridge train` on the demo's configuration: checks everything, trains until the steps, the
    minutes or a Ctrl-C, saves the agent, its ``run.json`` and the learning curve in `out`."""
    import dataclasses

    config = dataclasses.replace(config, out=out, minutes=minutes)
    result = cli.train(config, safe_mode=safe_mode, progress=sys.stderr.isatty())
    return dict(result, steps=result['timesteps'])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description='PPO that reads captions: image + text -> action')
    parser.add_argument('--steps', type=int, help='environment steps to train (default 1,000,000)')
    parser.add_argument('--seed', type=int)
    parser.add_argument('--envs', type=int, help='parallel environments (default 16; the default PPO needs 2 or '
                                                 'more: a minibatch of 256 from rollouts of 128 steps)')
    parser.add_argument('--minutes', type=float, default=MINUTES, help=f'training time limit (default {MINUTES:g})')
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

    agent, seed = result['agent'], 1_000_000 + config.seed * 10_000
    env = make_env(config)
    random_agent = RandomAgent(env.states, env.actions, seed=config.seed)
    frames: list = []
    name = type(agent).__name__
    rows = [(f'{name}, true captions', evaluate(config, agent, False, seed, args.episodes, frames)),
            (f'{name}, swapped captions', evaluate(config, agent, True, seed, args.episodes)),
            ('random agent', evaluate(config, random_agent, False, seed, args.episodes))]
    objects = CaptionRoom(**config.environment.get('kwargs', {})).num_objects
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
