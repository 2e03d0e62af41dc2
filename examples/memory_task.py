"""A task that needs memory: CaptionRoom with the caption shown only at the first step.

    python examples/memory_task.py [--minutes 4] [--steps N] [--seed 0] [--envs 16]
                                   [--size 4] [--objects 3] [--episodes 200]

`modalbridge/CaptionRoomMemory-v0` is CaptionRoom (go to the object the
caption names) whose caption is empty after the first observation of an
episode. The same PPO agent (the 'auto' network: a convolution per grid
cell, embedding + LSTM on the caption's tokens, FiLM) is trained twice,
with ``rnn=64`` (an LSTM core carrying its state across steps) and
without, for the same budget; both are then evaluated on fresh episodes,
sampling their actions. An agent without memory sees the caption for one
step only, so it is back to about the caption-blind rate, 1/K.

The evaluation drives the recurrent agent itself, TensorForce-style::

    internals = agent.initial_internals()
    actions, internals = agent.act(states, internals=internals, independent=True)
"""

from __future__ import annotations

import argparse
import time


from modalbridge.agents import PPO
from modalbridge.bridges import GymBridge, VectorEnvironment
from modalbridge.envs import MEMORY_ID, CaptionRoom

AGENT = dict(n_steps=32, batch_size=256, epochs=4, learning_rate=1e-3, entropy_coef=0.01, discount=0.99,
             gae_lambda=0.95, shared_network=True)


def environment(size: int, objects: int) -> GymBridge:
    return GymBridge(MEMORY_ID, size=size, num_objects=objects, max_steps=3 * size, shaping=0.1)


def make_agent(env, memory: bool, seed: int, envs: int) -> PPO:
    network = dict(type='auto', patch=5, rnn=64) if memory else dict(type='auto', patch=5)
    preprocessing = dict(image=[dict(type='normalize')],
                         caption=[dict(type='tokenize', length=6, vocabulary=CaptionRoom().vocabulary)])
    options = dict(AGENT, batch_size=min(AGENT['batch_size'], AGENT['n_steps'] * envs))
    return PPO(env.states, env.actions, network=network, preprocessing=preprocessing, num_envs=envs, seed=seed,
               **options)


def train(agent: PPO, env: VectorEnvironment, steps: int, seconds: float, seed: int) -> tuple[int, float]:
    states, start = env.reset(seed=seed), time.perf_counter()
    while agent.timesteps < steps and time.perf_counter() - start < seconds:
        step = env.execute(agent.act(states))
        final = step.info.get('final_states')
        agent.observe(step.reward, step.terminal, final_states=final)
        states = step.states
    return agent.timesteps, time.perf_counter() - start


def success_rate(agent: PPO, size: int, objects: int, episodes: int, seed: int) -> float:
    single, successes = environment(size, objects), 0
    for episode in range(episodes):
        states, internals, done = single.reset(seed=seed + episode), agent.initial_internals(), False
        while not done:
            actions, internals = agent.act(states, internals=internals, independent=True)
            step = single.execute(actions)
            states, done = step.states, bool(step.terminal)
        successes += bool(step.info.get('success'))
    return successes / episodes


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description='recurrent vs feed-forward PPO on CaptionRoomMemory-v0')
    parser.add_argument('--minutes', type=float, default=4.0, help='training time per agent')
    parser.add_argument('--steps', type=int, default=2_000_000, help='training steps per agent')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--envs', type=int, default=16)
    parser.add_argument('--size', type=int, default=4)
    parser.add_argument('--objects', type=int, default=3)
    parser.add_argument('--episodes', type=int, default=200, help='evaluation episodes per agent')
    args = parser.parse_args(argv)
    if min(args.steps, args.envs, args.episodes) < 1 or args.minutes <= 0:
        parser.error('--minutes, --steps, --envs and --episodes must be positive')

    rates = {}
    for memory in (True, False):
        name = 'PPO + LSTM core (rnn=64)' if memory else 'PPO without memory'
        env = VectorEnvironment([environment(args.size, args.objects) for _ in range(args.envs)])
        agent = make_agent(env, memory, args.seed, args.envs)
        steps, seconds = train(agent, env, args.steps, 60 * args.minutes, args.seed)
        env.close()
        rates[name] = success_rate(agent, args.size, args.objects, args.episodes, 100_000)
        print(f'{name:26s} {steps:8d} steps in {seconds:5.0f} s ({steps / seconds:5.0f} steps/s): '
              f'success {100 * rates[name]:5.1f}% over {args.episodes} fresh episodes', flush=True)
    print(f'caption-blind rate: 1/{args.objects} = {100 / args.objects:.1f}%')
    return rates


if __name__ == '__main__':
    main()
