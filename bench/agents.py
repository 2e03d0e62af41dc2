"""Agent benchmarks, one run: the seed's forward-pass table, act latency, A2C and PPO time-to-475.

    python bench/agents.py [--seeds 3] [--budget 300000] [--parts forward,latency,training]

1. The seed's CartPole model (Dense 64-64-2) on a 100000x4 batch: eager
   call vs tf.function vs model.predict.
2. `A2C.act` and `PPO.act` latency at batch 1 and 8 vs a trivial tf.function call, interleaved
   round by round (median same-round ratio, 25th-75th percentile).
3. A2C and PPO (RL Zoo settings, examples/cartpole_a2c.py and cartpole_ppo.py) on CartPole-v1
   with 8 environments, per seed: environment steps and wall seconds until
   the mean of the last 10 episodes reaches 475, and steps per second.
   The comparison with Stable-Baselines3 (same seeds, same core, CPU time)
   is bench/peers.py.
Writes bench/results/agents.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, compare, conditions, pin, table, timeit, write  # noqa: E402

pin()  # one core, one thread per library, before TensorFlow starts its pools
import tensorflow as tf  # noqa: E402

from modalbridge.agents import A2C, PPO, Runner  # noqa: E402

PPO_ZOO = dict(network=[dict(type='dense', size=64, activation='tanh', kernel_initializer='orthogonal',
                            gain=2 ** 0.5)] * 2, n_steps=32, batch_size=256, epochs=20, gae_lambda=0.8, discount=0.98,
               learning_rate=dict(type='linear', initial=1e-3, final=0.0, timesteps=100_000),
               clip_range=dict(type='linear', initial=0.2, final=0.0, timesteps=100_000))
A2C_SB3 = dict(network=PPO_ZOO['network'])  # SB3's MlpPolicy torso, as examples/cartpole_a2c.py declares it
from modalbridge.bridges import GymBridge, VectorEnvironment  # noqa: E402

keras = tf.keras


def forward_table() -> list[dict]:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(64, activation='relu'),
                              keras.layers.Dense(64, activation='relu'), keras.layers.Dense(2)])
    batch = np.random.default_rng(0).normal(size=(100_000, 4)).astype(np.float32)
    compiled = tf.function(model)
    compiled(batch)
    model.predict(batch, verbose=0)
    rows = [dict(call='eager model(x)', ms=timeit(lambda: model(batch), 5) * 1e3),
            dict(call='tf.function(model)(x)', ms=timeit(lambda: compiled(batch), 5) * 1e3),
            dict(call='model.predict(x) (batch_size 32)', ms=timeit(lambda: model.predict(batch, verbose=0), 3) * 1e3),
            dict(call='model.predict(x, batch_size=len(x))',
                 ms=timeit(lambda: model.predict(batch, batch_size=len(batch), verbose=0), 3) * 1e3)]
    for row in rows:
        row['ms'] = round(row['ms'], 1)
    return rows


def act_latency() -> list[dict]:
    """`act` (independent, as an application calls it) against a trivial tf.function, interleaved
    round by round (`common.compare`): the median of same-round ratios and their spread."""
    env = GymBridge('CartPole-v1')
    trivial = tf.function(lambda x: x + 1.0)
    vector = np.zeros((1, 4), np.float32)
    variants = {'trivial tf.function': lambda: trivial(vector)}
    batches = {'trivial tf.function': 1}
    for kind in (A2C, PPO):
        for batch in (1, 8):
            agent = kind(env.states, env.actions, num_envs=batch, seed=0,
                         **(dict(n_steps=8, batch_size=8) if kind is PPO else {}))
            states = dict(state=np.zeros((batch, 4), np.float32))
            name = f'{kind.__name__}.act'
            variants[f'{name} batch {batch}'] = lambda agent=agent, states=states: agent.act(states, independent=True)
            batches[f'{name} batch {batch}'] = batch
            if batch == 1:  # one environment's states without the batch axis, as the examples' evaluation loops
                single = dict(state=np.zeros(4, np.float32))
                variants[f'{name} single'] = lambda agent=agent, single=single: agent.act(single, independent=True)
                batches[f'{name} single'] = 1
    result = compare(variants, number=300, rounds=15, reference='trivial tf.function')
    return [dict(call=name, batch=batches[name], us=round(figures['seconds'] * 1e6),
                 ratio=round(figures['ratio'], 2), ratio_p25=round(figures['ratio_p25'], 2),
                 ratio_p75=round(figures['ratio_p75'], 2)) for name, figures in result.items()]


def time_to_475(seed: int, budget: int, kind: type = A2C) -> dict:
    env = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(8)])
    agent = kind(env.states, env.actions, num_envs=8, seed=seed, **(PPO_ZOO if kind is PPO else A2C_SB3))
    runner = Runner(agent, env, seed=seed)
    solved = lambda r: len(r.episode_returns) >= 10 and np.mean(r.episode_returns[-10:]) >= 475  # noqa: E731
    start, cpu = time.perf_counter(), time.process_time()
    history = runner.run(timesteps=budget, callback=lambda r: not solved(r), progress=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return dict(agent=kind.__name__, seed=seed, solved=bool(solved(runner)), steps=history.timesteps,
                seconds=round(seconds, 1), cpu=round(cpu, 1), steps_per_second=round(history.timesteps / seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--budget', type=int, default=300_000)
    parser.add_argument('--parts', default='forward,latency,training',
                        help='comma-separated parts to measure; the others are kept from bench/results/agents.json')
    args = parser.parse_args()
    parts = set(args.parts.split(','))
    unknown = parts - {'forward', 'latency', 'training'}
    if unknown:
        parser.error(f'--parts: unknown {sorted(unknown)}')
    previous = RESULTS / 'agents.json'
    kept = json.loads(previous.read_text()) if previous.exists() and parts != {'forward', 'latency', 'training'} else {}
    forward, latency = kept.get('forward'), kept.get('act_latency')
    runs, summary = kept.get('rows', []), kept.get('summary', {})
    if 'forward' in parts:
        forward = forward_table()
        print(table(forward, ['call', 'ms']), end='\n\n')
    if 'latency' in parts:
        latency = act_latency()
        print(table(latency, ['call', 'batch', 'us', 'ratio', 'ratio_p25', 'ratio_p75']), end='\n\n')
        summary['act_latency_conditions'] = dict(conditions(), method='common.compare: interleaved rounds, wall time '
                                                 'per call, median of same-round ratios to the trivial tf.function')
    if 'training' in parts:
        columns = ['agent', 'seed', 'solved', 'steps', 'seconds', 'cpu', 'steps_per_second']
        a2c_runs = [time_to_475(seed, args.budget) for seed in range(args.seeds)]
        print(table(a2c_runs, columns))
        ppo_runs = [time_to_475(seed, args.budget, PPO) for seed in range(args.seeds)]
        print(table(ppo_runs, columns))
        runs = a2c_runs + ppo_runs
        summary.update(median_seconds=statistics.median(r['seconds'] for r in a2c_runs),
                       median_steps=statistics.median(r['steps'] for r in a2c_runs),
                       median_steps_per_second=statistics.median(r['steps_per_second'] for r in a2c_runs))
        print(f"\nmedian time-to-475: {summary['median_seconds']} s, {summary['median_steps']} steps, "
              f"{summary['median_steps_per_second']} steps/s (vs Stable-Baselines3: bench/peers.py)")
        summary['ppo'] = dict(median_seconds=statistics.median(r['seconds'] for r in ppo_runs),
                              median_steps=statistics.median(r['steps'] for r in ppo_runs),
                              solved=all(r['solved'] for r in ppo_runs))
        print(f"PPO median time-to-475: {summary['ppo']['median_seconds']} s, {summary['ppo']['median_steps']} steps")
    print('wrote', write('agents', runs, forward=forward, act_latency=latency, summary=summary))

if __name__ == '__main__':
    main()
