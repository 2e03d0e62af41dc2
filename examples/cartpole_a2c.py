"""The seed problem: CartPole-v1 solved with A2C on 8 environments.

    python examples/cartpole_a2c.py [--seed 0] [--steps 200000] [--out runs/cartpole_a2c]

Trains until the mean return of the last 10 episodes reaches 475 (or the
step budget runs out), then saves the agent (a complete checkpoint: it acts
on CartPole's raw states once loaded), writes the learning curve and
evaluates the greedy policy of the loaded checkpoint on 10 fresh episodes.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from modalbridge.agents import A2C, Agent, Runner
from modalbridge.agents.evaluation import evaluate
from modalbridge.bridges import GymBridge, VectorEnvironment

SOLVED = 475.0
# Stable-Baselines3's MlpPolicy torso, as its A2C builds it for the zoo's CartPole-v1 entry (whose
# hyperparameters are A2C's defaults here): 64-64 tanh, orthogonal kernels of gain sqrt(2). With Keras's
# default glorot_uniform ('auto') the median over seeds 0-2 was 63.3k steps to 475; with this, 43.7k.
TORSO = [dict(type='dense', size=64, activation='tanh', kernel_initializer='orthogonal', gain=2 ** 0.5)] * 2
SETTINGS = dict(network=TORSO)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description='A2C on CartPole-v1')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--steps', type=int, default=200_000)
    parser.add_argument('--envs', type=int, default=8)
    parser.add_argument('--out', default=os.path.join('runs', 'cartpole_a2c'),
                        help='where to save the agent and the learning curve')
    args = parser.parse_args(argv)
    if args.steps < 1 or args.envs < 1:
        parser.error('--steps and --envs must be positive')
    if args.seed < 0:
        parser.error('--seed must be >= 0')

    env = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(args.envs)])
    agent = A2C(env.states, env.actions, parallel=args.envs, seed=args.seed, **SETTINGS)
    runner = Runner(agent, env, seed=args.seed)
    # any falsy result stops the run: here, once the last 10 episodes average SOLVED
    history = runner.run(timesteps=args.steps,
                         callback=lambda r: r.episodes < 10 or r.history.mean_return(10) < SOLVED)
    print(f'trained: {history.timesteps} steps, {history.episodes} episodes, {history.seconds:.1f} s '
          f'({history.timesteps / max(history.seconds, 1e-9):.0f} steps/s); '
          f'mean return of the last 10: {history.mean_return():.1f}')

    path = agent.save(os.path.join(args.out, 'agent'))
    curve = history.plot(os.path.join(args.out, 'learning_curve.png'))
    print(f'saved the agent to {path} and the learning curve to {curve}')
    loaded = Agent.load(path)
    result = evaluate(loaded, GymBridge('CartPole-v1'), episodes=10, seed=10_000)
    print(f'evaluation of the saved agent (greedy, fresh seeds): {result}')
    return dict(agent=agent, loaded=loaded, history=history, evaluation=result)


if __name__ == '__main__':
    main()
