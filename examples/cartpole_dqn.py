"""CartPole-v1 solved with double DQN on a replay memory.

    python examples/cartpole_dqn.py [--seed 0] [--steps 50000]

Settings after rl-baselines3-zoo's DQN CartPole-v1 (256x256 ReLU, Adam 2.3e-3,
batch 64, 128 gradient steps every 256 timesteps, target copied after each
round, epsilon 1 -> 0.04 over 8,000 steps), with 3-step returns. Trains
until the mean return of the last 10 episodes reaches 475 (or the step
budget runs out), printing progress, then evaluates the greedy policy on
10 fresh episodes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from modalbridge.agents import Runner
from modalbridge.agents.dqn import DQN
from modalbridge.bridges import GymBridge

CONFIG = dict(
    network=[dict(type='dense', size=256, activation='relu'), dict(type='dense', size=256, activation='relu')],
    learning_rate=2.3e-3, batch_size=64, memory_capacity=100_000, first_update=1_000, discount=0.99,
    update_frequency=256, repeat_update=128, target_update_frequency=128, n_step=3,
    exploration=dict(type='EpsilonDecay', kwargs=dict(epsilon=1.0, epsilon_final=0.04, epsilon_timesteps=8_000)))


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description='DQN on CartPole-v1')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--steps', type=int, default=50_000)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error('--steps must be positive')

    env = GymBridge('CartPole-v1')
    agent = DQN(env.states, env.actions, seed=args.seed, **CONFIG)
    runner = Runner(agent, env, seed=args.seed)

    def progress(runner: Runner) -> bool:
        episodes = len(runner.episode_returns)
        mean = float(np.mean(runner.episode_returns[-10:]))
        if episodes % 25 == 0:
            print(f'episode {episodes:5d}  steps {runner.timesteps:7d}  mean return (last 10) {mean:6.1f}')
        return not (episodes >= 10 and mean >= 475)

    start = time.perf_counter()
    history = runner.run(timesteps=args.steps, callback=progress, progress=False)
    seconds = time.perf_counter() - start
    print(f'trained: {history.timesteps} steps, {len(history.episode_returns)} episodes, {seconds:.1f} s '
          f'({history.timesteps / seconds:.0f} steps/s); mean return of the last 10: {history.mean_return():.1f}')

    evaluation = Runner(agent, GymBridge('CartPole-v1'), seed=10_000).run(episodes=10, evaluate=True, progress=False)
    print(f'evaluation (greedy, 10 fresh episodes): mean return {np.mean(evaluation.episode_returns):.1f}')
    return history.mean_return()


if __name__ == '__main__':
    main()
