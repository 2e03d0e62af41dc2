"""Off-policy benchmarks, one run: DQN on CartPole-v1 and TD3 on Pendulum-v1, per seed.

    python bench/offpolicy.py [--seeds 3] [--only dqn|td3] [--dqn-settings decay|zoo|nstep]

1. DQN with examples/cartpole_dqn.py's settings (`decay`, the default:
   rl-baselines3-zoo's CartPole-v1 entry with the learning rate decayed
   linearly to 0 over the budget; `zoo`: the entry as it is; `nstep`: with
   3-step returns; 50k-step budget): environment steps and wall seconds
   until the mean return of the last 10 episodes reaches 475, per seed
   (`solved` false when the budget ran out first).
2. TD3 (examples/pendulum_td3.py, 30k steps): the deterministic policy's
   mean return on 10 fresh episodes (target >= -250) and wall seconds.

Pinned to one core, one thread per library. The comparison with
Stable-Baselines3's DQN and TD3 (zoo settings, same seeds, same core, CPU
and wall time) is bench/peers.py. Writes bench/results/offpolicy.json.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import pin, table, write  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / 'examples'


def example(name: str):
    spec = importlib.util.spec_from_file_location(f'example_{name}', EXAMPLES / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dqn_cartpole(seed: int, settings: str) -> dict:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        agent, history = example('cartpole_dqn').train(seed=seed, steps=50_000, settings=settings)
    seconds = time.perf_counter() - start
    last10 = history.mean_return()
    return dict(agent=f'DQN CartPole-v1 ({settings})', seed=seed, steps=history.timesteps, seconds=round(seconds, 1),
                last10=round(last10, 1), solved=bool(len(history.episode_returns) >= 10 and last10 >= 475))


def td3_pendulum(seed: int, settings: str) -> dict:
    from modalbridge.agents import Runner
    from modalbridge.bridges import GymBridge
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        agent, history = example('pendulum_td3').train(seed=seed, steps=30_000)
    seconds = time.perf_counter() - start
    evaluation = Runner(agent, GymBridge('Pendulum-v1'), seed=10_000).run(episodes=10, evaluate=True,
                                                                          progress=False)
    mean = float(sum(evaluation.episode_returns) / len(evaluation.episode_returns))
    return dict(agent='TD3 Pendulum-v1', seed=seed, steps=history.timesteps, seconds=round(seconds, 1),
                evaluation=round(mean, 1), solved=mean >= -250)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--only', choices=('dqn', 'td3'), default=None)
    parser.add_argument('--dqn-settings', choices=('decay', 'zoo', 'nstep'), default='decay')
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error('--seeds must be positive')
    pin()
    runs = [run for name, run in (('dqn', dqn_cartpole), ('td3', td3_pendulum)) if args.only in (None, name)]
    rows = [run(seed, args.dqn_settings) for run in runs for seed in range(args.seeds)]
    print(table(rows, ['agent', 'seed', 'steps', 'seconds', 'last10', 'evaluation', 'solved']))
    summary = {agent: dict(all_solved=all(r['solved'] for r in rows if r['agent'] == agent),
                           median_seconds=statistics.median(r['seconds'] for r in rows if r['agent'] == agent))
               for agent in sorted({r['agent'] for r in rows})}
    print(summary)
    print(f'wrote {write("offpolicy", rows, summary=summary)}')


if __name__ == '__main__':
    main()
