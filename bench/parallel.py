"""Parallel experience: the demo configuration serial vs worker processes vs Ray actors.

    python bench/parallel.py [--envs 32] [--rounds 5] [--steps 1600] [--no-cluster] [--only-overlap [--kinds a2c,ppo]]

The demo configuration: CaptionRoom (`modalbridge/CaptionRoom-v0`, shaping 0.1)
with the demo's NumPy preprocessing (image normalized, caption tokenized),
`--envs` environments, the demo's A2C. Four measurements, each variant run
once per round in a rotating order (`common.compare`):

1. environment side only (random actions, preprocessing in the workers):
   steps/s in-process, 2 worker processes, 1 worker process beside a share
   stepped in this process (``parent_share=True``), 1 and 2 Ray actors;
2. training (the Runner, synchronous mode: the agent acts on the whole batch
   here, the workers step the environments): steps/s of each backend;
3. the learner alone (act + observe on a fixed batch, updates included) and
   the environment side alone, per step: the costs `docs/scaling.md`
   projects from;
4. (only with --only-overlap [--kinds a2c,ppo], written to
   parallel_overlap.json) the demo trained serially (NumPy preprocessing per
   environment, as the demo; or the same preprocessing inside the agent's
   compiled act) vs `Overlapped` (acting in 1 or 2 worker processes while the
   learner learns here), interleaved round by round (see `overlap`);
5. (unless --no-cluster) a 2-node Ray cluster (`ray.cluster_utils.Cluster`,
   two raylets on this machine, 1 CPU each) training the demo end to end for
   `--steps` steps with 1 and with 2 Ray workers.

Measurements 1 and 2 run in two groups, each with its own serial
reference: in-process and worker processes first, then (Ray started, with 3
logical CPUs so that the 1- and 2-actor variants exist at once on the
machine's 2 cores) in-process and Ray actors, as Ray's idle daemons take CPU
from whatever runs beside them. This process retains freed memory
(`retain_freed_memory`), as the workers do. The machine is shared with other engineers running tests: the figures are
indicative, the same-round ratios less noisy than the absolute numbers.
Writes bench/results/parallel.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, table, timeit, write  # noqa: E402

from modalbridge.bridges import GymBridge, VectorEnvironment, specs  # noqa: E402
from modalbridge.bridges.memory import retain_freed_memory  # noqa: E402
from modalbridge.envs import ID  # noqa: E402
from modalbridge.envs.caption_room import CaptionRoom  # noqa: E402

PREPROCESSING = dict(image=[dict(type='normalize')],
                     caption=[dict(type='tokenize', length=6, vocabulary=CaptionRoom().vocabulary)])
AGENT = dict(n_steps=5, optimizer='adam', learning_rate=1e-3, entropy_coef=0.01, discount=0.99,
             shared_network=True)
NETWORK = dict(type='auto', patch=5)


def caption_room() -> GymBridge:
    return GymBridge(ID, shaping=0.1)


def make_envs(backend: str, num_envs: int, workers: int | None, parent_share: bool = False) -> VectorEnvironment:
    return VectorEnvironment([caption_room] * num_envs, backend=backend, workers=workers, timeout=300,
                             preprocessing=PREPROCESSING, parent_share=parent_share)


def make_agent(envs: VectorEnvironment, seed: int = 0):
    from modalbridge.agents import A2C
    return A2C(envs.states, envs.actions, network=NETWORK, parallel=envs.num_envs, seed=seed, **AGENT)


VARIANTS = dict(serial=('local', None), processes_2=('processes', 2), processes_1_parent=('processes', 1, True),
                ray_1=('ray', 1), ray_2=('ray', 2))
# Ray's daemons (raylet, GCS) take CPU even while idle: with them running, the processes variants
# measured 1.40x the serial loop instead of 1.50x in the same run. Each group is measured on its own,
# Ray started only for the second.
GROUPS = (('serial', 'processes_2', 'processes_1_parent'), ('serial', 'ray_1', 'ray_2'))


def environment_side(num_envs: int, rounds: int, variants: tuple[str, ...]) -> tuple[list[dict], float]:
    """Steps/s of the environment side alone in each of `variants`; and seconds per env-step in-process."""
    envs = {name: make_envs(backend, num_envs, *rest) for name, (backend, *rest) in VARIANTS.items()
            if name in variants}
    rng = np.random.default_rng(0)
    some = next(iter(envs.values()))
    batches = [{name: np.stack([specs.sample(spec, rng) for _ in range(num_envs)])
                for name, spec in some.actions.items()} for _ in range(16)]
    try:
        for vector in envs.values():
            vector.reset(seed=0)
        counters = {name: 0 for name in envs}

        def stepper(name):
            def step():
                counters[name] += 1
                envs[name].execute(batches[counters[name] % len(batches)])
            return step
        result = compare({name: stepper(name) for name in envs}, number=50, rounds=rounds, reference='serial')
    finally:
        for vector in envs.values():
            vector.close()
    rows = [dict(measure='environment side', variant=name, steps_per_s=round(num_envs / r['seconds']),
                 ratio=round(1 / r['ratio'], 2), spread=f"{1 / r['ratio_p75']:.2f}-{1 / r['ratio_p25']:.2f}")
            for name, r in result.items()]
    return rows, result['serial']['seconds'] / num_envs


def training(num_envs: int, rounds: int, steps: int, variants: tuple[str, ...]) -> list[dict]:
    """Steps/s of the demo's training (Runner, synchronous) in each of `variants`."""
    from modalbridge.agents import Runner
    runners = {}
    try:
        for name, (backend, *rest) in VARIANTS.items():
            if name not in variants:
                continue
            envs = make_envs(backend, num_envs, *rest)
            runners[name] = Runner(make_agent(envs), envs, seed=0)
        result = compare({name: (lambda runner=runner: runner.run(timesteps=steps, progress=False))
                          for name, runner in runners.items()}, number=1, rounds=rounds, reference='serial')
    finally:
        for runner in runners.values():
            runner.environment.close()
    return [dict(measure='training', variant=name, steps_per_s=round(steps / r['seconds']),
                 ratio=round(1 / r['ratio'], 2), spread=f"{1 / r['ratio_p75']:.2f}-{1 / r['ratio_p25']:.2f}")
            for name, r in result.items()]


def learner_cost(num_envs: int) -> float:
    """Seconds per batched step of the learner alone: act + observe (the updates amortized) on fixed states."""
    envs = make_envs('local', num_envs, None)
    agent = make_agent(envs)
    states = envs.reset(seed=0)
    envs.close()
    reward, terminal = np.zeros(num_envs), np.zeros(num_envs, np.int8)

    def step():
        agent.act(states)
        agent.observe(reward, terminal)
    for _ in range(20):
        step()
    return timeit(step, number=50, repeat=5)


def cluster_training(num_envs: int, steps: int) -> list[dict]:
    """The demo trained end to end on a 2-node Ray cluster, with 1 and 2 Ray workers."""
    import ray
    from ray.cluster_utils import Cluster

    from modalbridge.agents import Runner
    cluster = Cluster(initialize_head=True, head_node_args=dict(num_cpus=1))
    cluster.add_node(num_cpus=1)
    rows = []
    try:
        ray.init(address=cluster.address, logging_level='WARNING')
        cluster.wait_for_nodes()
        for workers in (1, 2):
            envs = make_envs('ray', num_envs, workers)
            nodes = len(set(envs._workers.nodes))
            agent = make_agent(envs)
            with Runner(agent, envs, seed=0) as runner:
                runner.run(timesteps=5 * num_envs, progress=False)  # traces the TF functions
                start = time.perf_counter()
                history = runner.run(timesteps=steps, progress=False)
                seconds = time.perf_counter() - start
            envs.close()
            rows.append(dict(measure='2-node cluster training', variant=f'ray_{workers}', nodes=nodes,
                             steps_per_s=round(history.timesteps / seconds), episodes=history.episodes,
                             updates=history.updates,
                             mean_return=round(history.mean_return(100), 3)))
    finally:
        ray.shutdown()
        cluster.shutdown()
    return rows


PPO_FIELDS = dict(n_steps=16, batch_size=128, epochs=4, learning_rate=1e-3, entropy_coef=0.01, discount=0.99,
                  shared_network=True)


def overlap(num_envs: int, rounds: int, kinds: list[str]) -> list[dict]:
    """The demo trained serially vs `Overlapped` (acting in worker processes while learning here).

    Variants, built once, then trained `rounds` times each in a rotating order (`common.compare`, wall
    time; each round continues the same agent, so every variant has trained the same number of steps
    when the mean returns are read):

    With ``--threads 1`` (the default) this process runs TensorFlow on one thread, as the workers do:
    the serial loop on one core, as the issue's baseline; the learner then leaves the other core to
    the worker (with TF's default threads it takes slices of it: 3,602 against 4,167 steps/s, A2C).

    - ``serial_numpy``: today's serial loop: the Runner, NumPy preprocessing per environment (the demo);
    - ``serial_tf``: the Runner with the same preprocessing in the agent (inside its compiled act);
    - ``overlap_processes_1`` / ``_2``: `Overlapped` with 1 or 2 worker processes, the agent's own
      preprocessing running in the workers' policies.
    """
    from modalbridge.agents import A2C, PPO, Runner
    from modalbridge.agents.parallel import Overlapped
    rows = []
    for kind in kinds:
        cls, fields = (PPO, PPO_FIELDS) if kind == 'ppo' else (A2C, AGENT)
        steps = fields['n_steps'] * num_envs * (8 if kind == 'ppo' else 20)
        built: dict[str, Any] = {}
        try:
            numpy_envs = make_envs('local', num_envs, None)
            raw_envs = VectorEnvironment([caption_room] * num_envs)
            built['serial_numpy'] = Runner(cls(numpy_envs.states, numpy_envs.actions, network=NETWORK,
                                               parallel=num_envs, seed=0, **fields), numpy_envs, seed=0)
            agents = {name: cls(raw_envs.states, raw_envs.actions, network=NETWORK, parallel=num_envs, seed=0,
                                preprocessing=PREPROCESSING, **fields)
                      for name in ('serial_tf', 'overlap_processes_1', 'overlap_processes_2')}
            built['serial_tf'] = Runner(agents['serial_tf'], raw_envs, seed=0)
            for workers in (1, 2):
                name = f'overlap_processes_{workers}'
                built[name] = Overlapped(agents[name], caption_room, workers=workers)
            histories: dict[str, list] = {name: [] for name in built}

            def train(name: str, target: Any, seen: list, steps: int = steps) -> Callable[[], None]:
                def once() -> None:
                    seen.append(target.run(timesteps=steps, progress=False) if name.startswith('serial')
                                else target.run(timesteps=steps))
                return once
            result = compare({name: train(name, built[name], histories[name]) for name in built}, number=1,
                             rounds=rounds, reference='serial_numpy')
        finally:
            for target in built.values():
                target.close()
            numpy_envs.close()
            raw_envs.close()
        for name, r in result.items():
            ratios_tf = [t_tf / t for t, t_tf in zip(r['samples'], result['serial_tf']['samples'])]
            last = histories[name][-1]
            rows.append(dict(measure=f'overlap ({kind})', variant=name, steps_per_s=round(steps / r['seconds']),
                             ratio=round(1 / r['ratio'], 2), spread=f"{1 / r['ratio_p75']:.2f}-{1 / r['ratio_p25']:.2f}",
                             ratio_to_serial_tf=round(float(np.median(ratios_tf)), 2),
                             steps=steps * (rounds + 1), mean_return=round(last.mean_return(100), 3)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--envs', type=int, default=32)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--steps', type=int, default=1600, help='training steps per round')
    parser.add_argument('--no-cluster', action='store_true')
    parser.add_argument('--only-overlap', action='store_true', help='only the serial vs Overlapped measurement')
    parser.add_argument('--kinds', default='a2c,ppo', help='agents of the overlap measurement')
    parser.add_argument('--threads', type=int, default=1,
                        help="TF threads of this process in the overlap measurement (the workers' are 1)")
    args = parser.parse_args()
    if args.only_overlap:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        rows = overlap(args.envs, args.rounds, args.kinds.split(','))
        print(table(rows, ['measure', 'variant', 'steps_per_s', 'ratio', 'spread', 'ratio_to_serial_tf', 'steps',
                           'mean_return']))
        print('wrote', write('parallel_overlap', rows, rounds=args.rounds, threads=args.threads))
        return
    # This process retains freed memory, as docs/scaling.md advises a training process (the workers
    # do it themselves): every variant's parent side gains from it, the serial loop most.
    retain_freed_memory()
    env_rows, train_rows, env_step = [], [], None
    for group in GROUPS:
        with_ray = 'ray_1' in group
        if with_ray:
            import ray
            ray.init(num_cpus=3, include_dashboard=False, logging_level='WARNING')
        try:
            rows, step = environment_side(args.envs, args.rounds, group)
            env_step = step if env_step is None else env_step  # the first group's: Ray not running
            more = training(args.envs, max(3, args.rounds // 2), args.steps, group)
        finally:
            if with_ray:
                ray.shutdown()
        for row in rows + more:
            if with_ray and row['variant'] == 'serial':
                row['variant'] = 'serial (Ray running)'  # the reference of this group's ratios
        env_rows, train_rows = env_rows + rows, train_rows + more
    learner = learner_cost(args.envs)
    cluster_rows = [] if args.no_cluster else cluster_training(args.envs, args.steps)
    columns = ['measure', 'variant', 'steps_per_s', 'ratio', 'spread']
    print(table(env_rows + train_rows, columns))
    if cluster_rows:
        print()
        print(table(cluster_rows, ['measure', 'variant', 'nodes', 'steps_per_s', 'episodes', 'updates',
                                   'mean_return']))
    costs = dict(env_step_us=round(env_step * 1e6, 1), learner_batch_ms=round(learner * 1e3, 2),
                 learner_step_us=round(learner / args.envs * 1e6, 1), envs=args.envs)
    print('\ncosts:', costs, f'(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: shared machine)')
    print('wrote', write('parallel', env_rows + train_rows + cluster_rows, costs=costs, rounds=args.rounds,
                         steps=args.steps))


if __name__ == '__main__':
    main()
