"""Recurrent PPO on MiniGrid-MemoryS7-v0 for a budget of process CPU-seconds, against a random agent.

    pip install -e '.[minigrid]'
    python bench/minigrid_memory.py [--cpu-seconds 600] [--seed 0] [--envs 16] [--episodes 200] [--memoryless]

MemoryS7: an object shown in the start room, a hallway, then two objects at
its end; picking the one matching the first succeeds (reward ``1 - 0.9 *
steps / max_steps``), the other ends the episode with nothing. The cue is
visual (the mission never changes), so the LSTM core sits after the torso
(``rnn_at='torso'``, TensorForce's placement). States: minigrid's symbolic
7x7x3 partial view (object, colour and state indices: the same information
as the RGB view, without its 660 us rendering per step), the direction and
the mission (tokenized). One process, TensorFlow/NumPy/OpenCV on one thread;
`cpu_seconds` is its process CPU time (the quiet-machine equivalent of wall
time), reported beside the wall time and the load average. Writes
bench/results/minigrid_memory.json (the `--memoryless` run beside it).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import pin  # noqa: E402

pin(core=None)  # one thread, any core (the machine is shared)

import minigrid  # noqa: E402, F401 - registers the MiniGrid-* ids

from modalbridge.agents import PPO, RandomAgent  # noqa: E402
from modalbridge.agents.evaluation import evaluate  # noqa: E402
from modalbridge.bridges import GymBridge, VectorEnvironment  # noqa: E402

ENV = 'MiniGrid-MemoryS7-v0'
VOCABULARY = 'go to the matching object at end of hallway'.split()
PREPROCESSING = dict(mission=[dict(type='tokenize', length=12, vocabulary=VOCABULARY)])
AGENT = dict(n_steps=64, batch_size=256, epochs=4, learning_rate=5e-4, entropy_coef=0.01, discount=0.99,
             gae_lambda=0.95, shared_network=True)


def make_env() -> GymBridge:
    return GymBridge(gymnasium.make(ENV))


def score(agent, episodes: int) -> dict[str, float]:
    """Success (a positive return) and mean return on fresh episodes, sampling actions."""
    envs = [make_env() for _ in range(16)]  # acting in batches of 16
    returns = np.asarray(evaluate(agent, envs, episodes, deterministic=False, seed=10_000).returns)
    return dict(success=float(np.mean(returns > 0)), mean_return=float(returns.mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cpu-seconds', type=float, default=600.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--envs', type=int, default=16)
    parser.add_argument('--episodes', type=int, default=200)
    parser.add_argument('--memoryless', action='store_true', help='the same agent without the LSTM core')
    args = parser.parse_args()
    env = VectorEnvironment([make_env() for _ in range(args.envs)])
    rows = {'random agent': score(RandomAgent(env.states, env.actions, seed=args.seed), args.episodes)}
    network = dict(type='auto', rnn=None if args.memoryless else 64)
    agent = PPO(env.states, env.actions, network=network, preprocessing=PREPROCESSING, num_envs=args.envs,
                seed=args.seed, **AGENT)
    recent, curve = collections.deque(maxlen=200), []
    states, cpu0, wall0 = env.reset(seed=args.seed), time.process_time(), time.perf_counter()
    while time.process_time() - cpu0 < args.cpu_seconds:
        step = env.execute(agent.act(states))
        if agent.observe(step.reward, step.terminal, final_states=step.info.get('final_states')) and recent:
            curve.append((round(time.process_time() - cpu0, 1), agent.timesteps, float(np.mean(recent))))
        recent.extend(float(r > 0) for r, end in zip(step.reward, step.terminal) if end)  # paid at the end only
        states = step.states
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    env.close()
    rows['PPO' + (' (no memory)' if args.memoryless else ' + LSTM core')] = score(agent, args.episodes)
    for name, row in rows.items():
        print(f'{name:24s} success {100 * row["success"]:5.1f}%  mean return {row["mean_return"]:.3f} '
              f'({args.episodes} fresh episodes)')
    print(f'trained {agent.timesteps} steps in {cpu:.0f} CPU-s ({wall:.0f} s wall, load {os.getloadavg()[0]:.1f})')
    name = 'minigrid_memory' + ('_memoryless' if args.memoryless else '')
    out = Path(__file__).resolve().parent / 'results' / f'{name}.json'
    out.write_text(json.dumps(dict(
        env=ENV, seed=args.seed, envs=args.envs, agent=AGENT, network=network, steps=agent.timesteps,
        cpu_seconds=round(cpu, 1), wall_seconds=round(wall, 1), load_average=[round(x, 2) for x in os.getloadavg()],
        note='one process, one thread; cpu_seconds is the process CPU time (the quiet-machine equivalent of wall '
             'time)', evaluation=rows, success_curve=curve[::max(1, len(curve) // 100)]), indent=1) + '\n')
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
