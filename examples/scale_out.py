"""Scale out: the same A2C on CartPole-v1 with its environments in-process, in worker processes and on Ray.

    python examples/scale_out.py [--steps 20000] [--envs 8] [--workers 2] [--backends local,processes,ray]
                                 [--address ray://host:10001]

One switch moves the environments: ``Runner(agent, factory, backend=...,
workers=...)``. The agent is unchanged and acts on the whole batch in this
process (the synchronous, exactly on-policy mode), so with the same seed
every backend learns exactly the same thing; only the steps per second
differ. With ``--address`` the Ray workers go to that cluster
(``ray.init(address=...)``); otherwise a local Ray instance is started.
Prints a table: backend, steps/s, mean return of the last 10 episodes, and
whether the final weights equal those of the first backend.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from modalbridge.agents import A2C, Runner
from modalbridge.bridges import GymBridge

BACKENDS = ('local', 'processes', 'ray')


def cartpole() -> GymBridge:
    return GymBridge('CartPole-v1')


def train(backend: str, steps: int, envs: int, workers: int, seed: int) -> dict[str, Any]:
    probe = cartpole()
    agent = A2C(probe.states, probe.actions, parallel=envs, seed=seed)
    probe.close()
    with Runner(agent, cartpole, seed=seed, backend=backend, workers=None if backend == 'local' else workers) as runner:
        history = runner.run(timesteps=steps, progress=False)
    return dict(backend=backend, steps_per_s=history.timesteps / history.seconds, mean_return=history.mean_return(),
                weights=agent.policy.model.get_weights())


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=20_000)
    parser.add_argument('--envs', type=int, default=8)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--backends', default=','.join(BACKENDS))
    parser.add_argument('--address', default=None, help="a Ray cluster's address (default: a local Ray)")
    args = parser.parse_args(argv)
    backends = [name.strip() for name in args.backends.split(',') if name.strip()]
    unknown = [name for name in backends if name not in BACKENDS]
    if unknown or not backends:
        parser.error(f'--backends: expected some of {",".join(BACKENDS)}; received {args.backends!r}')
    if min(args.steps, args.envs, args.workers) < 1 or args.workers > args.envs:
        parser.error('--steps, --envs and --workers must be positive, and --workers at most --envs')
    started = False
    if 'ray' in backends:
        import ray
        if not ray.is_initialized():
            ray.init(address=args.address, **({} if args.address else dict(num_cpus=args.workers)),
                     include_dashboard=False, logging_level='WARNING')
            started = True
    try:
        rows = [train(backend, args.steps, args.envs, args.workers, args.seed) for backend in backends]
    finally:
        if started:
            import ray
            ray.shutdown()
    reference = rows[0]['weights']
    print(f"{'backend':>10}  {'steps/s':>8}  {'return (last 10)':>16}  same weights as {rows[0]['backend']}")
    for row in rows:
        row['same_weights'] = all(np.array_equal(a, b) for a, b in zip(reference, row['weights']))
        print(f"{row['backend']:>10}  {row['steps_per_s']:>8.0f}  {row['mean_return']:>16.1f}  {row['same_weights']}")
    return rows


if __name__ == '__main__':
    main()
