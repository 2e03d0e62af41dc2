"""The main demo: an agent that must read the caption to find its way.

    python examples/image_caption.py [--steps N] [--seed S] [--envs E] [--minutes M]
                                     [--config demo.json] [--out runs/image_caption]

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
``DEFAULT_CONFIG``); a bad entry is refused before training starts.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from typing import Any

import numpy as np

from modalbridge.agents import A2C, RandomAgent, Runner
from modalbridge.bridges import ConfigError, GymBridge, Terminal, VectorEnvironment
from modalbridge.bridges.envs.caption_room import CaptionRoom
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
EVALUATION_EPISODES = 300


def load_config(path: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The run's configuration: defaults, then the JSON file, then flags; unknown keys refused."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    if path is not None:
        try:
            with open(path, encoding='utf-8') as file:
                document = json.load(file)
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f'config: cannot read {path!r}: {error}') from error
        if not isinstance(document, dict):
            raise ConfigError(f'config: {path!r} must hold a JSON object with some of {list(CONFIG_KEYS)}')
        for key, value in document.items():
            if key not in CONFIG_KEYS:
                raise ConfigError(f'config[{key!r}]: unknown key; expected some of {list(CONFIG_KEYS)}')
            config[key] = value
        if not isinstance(config['environment'], dict) or set(config['environment']) - {'id', 'kwargs'}:
            raise ConfigError("config['environment']: expected dict(id=..., kwargs={...})")
    config.update({key: value for key, value in overrides.items() if value is not None})
    for key in ('envs', 'steps'):
        if not isinstance(config[key], int) or config[key] < 1:
            raise ConfigError(f'config[{key!r}]: expected a positive int; received {config[key]!r}')
    return config


def make_env(config: dict[str, Any], **kwargs: Any) -> GymBridge:
    environment = config['environment']
    return GymBridge(environment['id'], **{**environment.get('kwargs', {}), **kwargs})


def build(config: dict[str, Any]) -> tuple[VectorEnvironment, Stack, A2C]:
    """Everything the run needs, built (and so checked) before any training."""
    envs = VectorEnvironment([make_env(config) for _ in range(config['envs'])])
    stack = Stack(envs.states, config['preprocessing'], num_envs=config['envs'], backend='numpy')
    options = dict(config['agent'])
    unknown = set(options) - set(A2C.Config.__dataclass_fields__)  # the typed config's fields
    if unknown:
        raise ConfigError(f"config['agent']: unknown argument(s) {sorted(unknown)}")
    agent = A2C(stack.states, envs.actions, network=config['network'], parallel=config['envs'],
                seed=config['seed'], **options)
    return envs, stack, agent


def evaluate(config: dict[str, Any], agent: Any, swap: bool, seed: int, episodes: int,
             frames: list | None = None, deterministic: bool = False) -> dict[str, float]:
    """Success rate (the target reached, ``info['success']``) and mean return on fresh seeds,
    one environment at a time; the policy samples its actions unless `deterministic`."""
    env = make_env(config, swap_caption=swap)
    stack = Stack(env.states, config['preprocessing'], backend='numpy')
    successes, returns = [], []
    for episode in range(episodes):
        states, total, terminal = env.reset(seed=seed + episode), 0.0, Terminal.NONE
        stack.reset()
        record = frames is not None and episode < 4
        while terminal == Terminal.NONE:
            if record:
                frames.append((states['image'], states['caption'].item(), episode))
            step = env.execute(agent.act(stack(states), deterministic=deterministic, independent=True))
            states, total, terminal = step.states, total + step.reward, step.terminal
        successes.append(bool(step.info.get('success', False)))
        returns.append(total)
    return dict(success=float(np.mean(successes)), mean_return=float(np.mean(returns)))


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


def train(config: dict[str, Any], minutes: float | None, out: str) -> dict[str, Any]:
    envs, stack, agent = build(config)
    runner = Runner(agent, envs, preprocessing=stack, seed=config['seed'])
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
    print(f'trained {steps:,} steps ({len(runner.episode_returns):,} episodes) in {seconds:.0f} s '
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
    parser.add_argument('--out', default=os.path.join('runs', 'image_caption'), help='where to save the agent and PNG')
    args = parser.parse_args(argv)
    for flag in ('steps', 'envs', 'episodes'):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f'--{flag} must be a positive integer; received {value}')
    if args.minutes <= 0:
        parser.error(f'--minutes must be positive; received {args.minutes}')
    try:
        config = load_config(args.config, dict(steps=args.steps, seed=args.seed, envs=args.envs))
        result = train(config, args.minutes, args.out)
    except ConfigError as error:
        print(f'configuration error: {error}', file=sys.stderr)
        raise SystemExit(2) from None
    if result['interrupted']:
        return result

    agent, seed = result['agent'], 1_000_000 + config['seed'] * 10_000
    env = make_env(config)
    random_agent = RandomAgent(Stack(env.states, config['preprocessing'], backend='numpy').states, env.actions,
                               seed=config['seed'])
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
