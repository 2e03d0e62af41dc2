"""CartPole-v1 solved with PPO on 8 environments (RL Zoo's tuned settings).

    python examples/cartpole_ppo.py [--seed 0] [--steps 100000]

Trains until the mean return of the last 10 episodes reaches 475 (or the
step budget runs out), printing progress and the update's metrics, then
evaluates the greedy policy on 10 fresh episodes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from modalbridge.agents import PPO, Runner
from modalbridge.bridges import GymBridge, VectorEnvironment

# rl-baselines3-zoo's hyperparameters for PPO on CartPole-v1 (its schedules run over 100k steps), on
# Stable-Baselines3's MlpPolicy torso: 64-64 tanh, orthogonal kernels of gain sqrt(2) (Keras's default
# glorot_uniform took a median 31.8k steps to solve over seeds 0-5; this, 25.2k over the same seeds).
TORSO = [dict(type='dense', size=64, activation='tanh', kernel_initializer='orthogonal', gain=2 ** 0.5)] * 2
ZOO = dict(network=TORSO, n_steps=32, batch_size=256, epochs=20, gae_lambda=0.8, discount=0.98, entropy_coef=0.0,
           learning_rate=dict(type='linear', initial=1e-3, final=0.0, timesteps=100_000),
           clip_range=dict(type='linear', initial=0.2, final=0.0, timesteps=100_000))


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description='PPO on CartPole-v1')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--steps', type=int, default=100_000)
    parser.add_argument('--envs', type=int, default=8)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.envs < 1:
        parser.error('--steps and --envs must be positive')

    env = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(args.envs)])
    agent = PPO(env.states, env.actions, num_envs=args.envs, seed=args.seed, **ZOO)
    runner = Runner(agent, env, seed=args.seed)

    def progress(runner: Runner) -> bool:
        episodes = len(runner.episode_returns)
        mean = float(np.mean(runner.episode_returns[-10:]))
        if episodes % 50 == 0:
            metrics = agent.last_update
            print(f'episode {episodes:5d}  steps {runner.timesteps:7d}  mean return (last 10) {mean:6.1f}  '
                  f'approx_kl {metrics.get("approx_kl", float("nan")):.4f}  '
                  f'clip_fraction {metrics.get("clip_fraction", float("nan")):.3f}')
        return not (episodes >= 10 and mean >= 475)

    start = time.perf_counter()
    history = runner.run(timesteps=args.steps, callback=progress)
    seconds = time.perf_counter() - start
    print(f'trained: {history.timesteps} steps, {len(history.episode_returns)} episodes, {seconds:.1f} s '
          f'({history.timesteps / seconds:.0f} steps/s); mean return of the last 10: {history.mean_return():.1f}')

    returns = []  # the external act/execute loop, one environment, greedy actions
    for episode in range(10):
        single = GymBridge('CartPole-v1')
        states, total, done = single.reset(seed=10_000 + episode), 0.0, False
        while not done:
            step = single.execute(agent.act(states, deterministic=True, independent=True))
            states, total, done = step.states, total + step.reward, bool(step.terminal)
        returns.append(total)
    print(f'evaluation (greedy, 10 fresh episodes): mean return {np.mean(returns):.1f}')
    return float(np.mean(returns))


if __name__ == '__main__':
    main()
