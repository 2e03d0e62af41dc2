"""Pendulum-v1 with TD3 on a replay memory, within 30,000 steps.

    python examples/pendulum_td3.py [--seed 0] [--steps 30000] [--save runs/pendulum_td3]

Settings after rl-baselines3-zoo's TD3 Pendulum-v1 (discount 0.98, Adam
1e-3, Gaussian exploration of 0.1 of the action range's half-width, i.e.
sigma 0.2 on [-2, 2]; gradient steps batched per episode: 200 every 200
timesteps), with 1,000 random-ish timesteps before the first update
instead of 10,000. Prints the mean return of the last 10 episodes as it
trains, then evaluates the deterministic policy on 10 fresh episodes
(the target: >= -250); `--save` writes a checkpoint (`TD3.load` reads it back).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from modalbridge.agents import TD3, History, Runner
from modalbridge.bridges import GymBridge

CONFIG = dict(
    network=[dict(type='dense', size=400, activation='relu')], head_size=300,
    learning_rate=1e-3, batch_size=256, memory_capacity=200_000, first_update=1_000, discount=0.98,
    update_frequency=200, repeat_update=200, tau=0.005, policy_delay=2,
    exploration=dict(type='GaussianNoise', kwargs=dict(sigma=0.2)))


def train(seed: int = 0, steps: int = 30_000, save: str | None = None) -> tuple[TD3, History]:
    """Trains with `CONFIG` for `steps`, printing progress; saves a checkpoint to `save`."""
    env = GymBridge('Pendulum-v1')
    agent = TD3(env.states, env.actions, seed=seed, **CONFIG)
    runner = Runner(agent, env, seed=seed)

    def progress(runner: Runner) -> None:
        episodes = len(runner.episode_returns)
        if episodes % 10 == 0:
            print(f'episode {episodes:4d}  steps {runner.timesteps:6d}  '
                  f'mean return (last 10) {np.mean(runner.episode_returns[-10:]):8.1f}')

    start = time.perf_counter()
    history = runner.run(timesteps=steps, callback=progress, progress=False)
    seconds = time.perf_counter() - start
    print(f'trained: {history.timesteps} steps, {len(history.episode_returns)} episodes, {seconds:.1f} s '
          f'({history.timesteps / seconds:.0f} steps/s); mean return of the last 10: {history.mean_return():.1f}')
    if save:
        print(f'saved {agent.save(save)}')
    return agent, history


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description='TD3 on Pendulum-v1')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--steps', type=int, default=30_000)
    parser.add_argument('--save', default=None, help='a checkpoint directory to write after training')
    args = parser.parse_args(argv)
    if args.steps < 1 or args.seed < 0:
        parser.error('--steps must be positive and --seed non-negative')
    if args.save and os.path.lexists(args.save) and not os.path.isfile(os.path.join(args.save, 'agent.json')):
        parser.error(f'--save {args.save!r} exists and is not a checkpoint (refused before training)')

    agent, history = train(args.seed, args.steps, args.save)
    evaluation = Runner(agent, GymBridge('Pendulum-v1'), seed=10_000).run(episodes=10, evaluate=True,
                                                                          progress=False)
    mean = float(np.mean(evaluation.episode_returns))
    print(f'evaluation (deterministic, 10 fresh episodes): mean return {mean:.1f}')
    return mean


if __name__ == '__main__':
    main()
