"""Stable-Baselines3 on a bridged, preprocessed environment, as it is.

    pip install 'modalbridge[sb3]'   # torch + stable-baselines3 (not in the default extras: torch is heavy)
    python examples/sb3_interop.py [--env cartpole|caption_room] [--steps N] [--seed S] [--episodes E]

The pipeline: `GymBridge` -> `Preprocessed` (the caption tokenized with a
vocabulary checked by `preprocess.text.coverage`; the image kept uint8) ->
`to_gymnasium(..., sb3=True)` -> SB3's PPO (``MultiInputPolicy`` for the
image + caption dict, ``MlpPolicy`` for CartPole). ``sb3=True`` unwraps the
lone ``move`` action (SB3 refuses a one-key Dict) and refuses, naming the
fix, what SB3 cannot take (raw text, normalized images). After training it
prints the mean return (and the success rate for CaptionRoom) of the
sampled policy on fresh seeds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from modalbridge.bridges import ConfigError, GymBridge, to_gymnasium
from modalbridge.preprocess import Preprocessed
from modalbridge.preprocess.text import coverage

ENVIRONMENTS = ('cartpole', 'caption_room')


def make(name: str):
    """The Gymnasium environment SB3 trains on."""
    if name == 'cartpole':
        return to_gymnasium(GymBridge('CartPole-v1'), sb3=True)
    from modalbridge.envs.caption_room import CaptionRoom

    vocabulary = CaptionRoom().vocabulary
    return to_gymnasium(Preprocessed(GymBridge('modalbridge/CaptionRoom-v0', shaping=0.1),
                                     dict(caption=[dict(type='tokenize', length=6, vocabulary=vocabulary)])),
                        sb3=True)


def check_vocabulary(episodes: int = 50) -> float:
    """The tokenizer's unknown-word rate on the first captions of a few episodes; refuses any miss."""
    from modalbridge.envs.caption_room import CaptionRoom

    env = GymBridge('modalbridge/CaptionRoom-v0')
    captions = [str(env.reset(seed=seed)['caption'].item()) for seed in range(episodes)]
    env.close()
    report = coverage(CaptionRoom().vocabulary, captions)
    if report.unknown:
        raise ConfigError(f'caption: the vocabulary misses {report.unknown_rate:.1%} of the words, such as '
                          f'{list(report.missing[:3])}')
    return report.unknown_rate


def evaluate(model, name: str, episodes: int, seed: int) -> dict[str, float]:
    env = make(name)
    returns, successes = [], []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        total, done, info = 0.0, False, {}
        while not done:
            action, _ = model.predict(observation, deterministic=False)
            observation, reward, terminated, truncated, info = env.step(action)
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
        successes.append(bool(info.get('success', False)))
    env.close()
    return dict(mean_return=float(np.mean(returns)), success=float(np.mean(successes)))


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description='Stable-Baselines3 PPO on a modalbridge environment')
    parser.add_argument('--env', choices=ENVIRONMENTS, default='cartpole')
    parser.add_argument('--steps', type=int, default=30_000)
    parser.add_argument('--envs', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--episodes', type=int, default=50)
    args = parser.parse_args(argv)
    if min(args.steps, args.envs, args.episodes) < 1:
        parser.error('--steps, --envs and --episodes must be positive')
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    if args.env == 'caption_room':
        print(f'caption vocabulary: {check_vocabulary():.1%} unknown words on the first captions of 50 episodes')
    vector = make_vec_env(lambda: make(args.env), n_envs=args.envs, seed=args.seed)
    print(f'observation space: {vector.observation_space}\naction space: {vector.action_space}')
    policy = 'MultiInputPolicy' if args.env == 'caption_room' else 'MlpPolicy'
    options = dict(n_steps=32, batch_size=256, n_epochs=20, gae_lambda=0.8, gamma=0.98, learning_rate=1e-3) \
        if args.env == 'cartpole' else dict(n_steps=64, batch_size=256, n_epochs=4, ent_coef=0.01, learning_rate=5e-4)
    model = PPO(policy, vector, seed=args.seed, device='cpu', verbose=0, **options)
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    seconds = time.perf_counter() - start
    result = evaluate(model, args.env, args.episodes, seed=1_000_000 + args.seed)
    line = (f'SB3 PPO ({policy}) on {args.env}: {args.steps:,} steps in {seconds:.0f} s '
            f'({args.steps / seconds:,.0f} steps/s); {args.episodes} evaluation episodes: mean return '
            f"{result['mean_return']:.2f}")
    if args.env == 'caption_room':
        line += f", success {result['success']:.1%} (an agent ignoring the caption: at most 33.3%)"
    print(line)
    return dict(result, seconds=seconds)


if __name__ == '__main__':
    main()
