"""The seed problem: CartPole-v1 solved with A2C on 8 environments.

    python examples/cartpole_a2c.py [--seed 0] [--steps 200000]

Trains until the mean return of the last 10 episodes reaches 475 (or the
step budget runs out), printing progress, then evaluates the greedy policy
on 10 fresh episodes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from modalbridge.agents import A2C, Runner
from modalbridge.bridges import GymBridge, VectorEnvironment


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description='A2C on CartPole-v1')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--steps', type=int, default=200_000)
    parser.add_argument('--envs', type=int, default=8)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.envs < 1:
        parser.error('--steps and --envs must be positive')

    env = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(args.envs)])
    agent = A2C(env.states, env.actions, parallel=args.envs, seed=args.seed)
    runner = Runner(agent, env, seed=args.seed)

    def progress(runner: Runner) -> bool:
        episodes = len(runner.episode_returns)
        mean = float(np.mean(runner.episode_returns[-10:]))
        if episodes % 50 == 0:
            print(f'episode {episodes:5d}  steps {runner.timesteps:7d}  mean return (last 10) {mean:6.1f}')
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
