"""BabyAI's GoToLocal with the image+caption agent on PPO: "go to the red ball" among 8 distractors.

    pip install -e '.[minigrid]'            # EnvPool too, for the fast path: pip install -e '.[envpool]'
    python examples/babyai.py [--env BabyAI-GoToLocal-v0] [--budget 3600] [--steps N] [--seed S]
                              [--envs E] [--episodes 1000] [--memory 0] [--backend auto|envpool|minigrid]
                              [--out runs/babyai]

BabyAI levels are MiniGrid environments whose mission is a sentence in the
Baby language. GoToLocal puts the agent in one 8x8 room with 8 objects
(keys, balls, boxes of 6 colours); the mission names one of them ("go to
the grey key", "go to a purple box") and the episode succeeds when the agent
faces it (reward ``1 - 0.9 * steps / max_steps``); there is no `done` to
say. The observation is the one the BabyAI baselines use: minigrid's
symbolic 7x7 view of (object, colour, state) ids, one-hot encoded per
channel by the declared stack, the mission tokenized, the direction; the
'auto' network FiLM-modulates the view by the mission. ``--memory N`` adds
an LSTM of N after the torso (the BabyAI baselines are recurrent: the room
is larger than the view). EnvPool steps it in C++ (~35k steps/s through our
bridge) when installed; minigrid's Python (~4.4k) otherwise.

The budget is process CPU time with TensorFlow on one thread (``--budget``
seconds, the quiet-machine equivalent of wall time on a shared machine).
The table compares the agent with a random one on fresh episodes and with
the BabyAI 1.1 baselines (97-99% success after about 5 hours of training
on their hardware). Results: see the README.
"""

from __future__ import annotations

import os

for _variable in ('TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'OMP_NUM_THREADS'):
    os.environ.setdefault(_variable, '1')  # one thread: the budget is one process's CPU time

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from modalbridge.agents import PPO, RandomAgent  # noqa: E402

try:
    import minigrid  # noqa: F401 - registers the BabyAI-* ids
    from minigrid.core.constants import COLOR_NAMES, OBJECT_TO_IDX, STATE_TO_IDX
except ImportError:
    raise SystemExit("this example needs minigrid: pip install -e '.[minigrid]'") from None

# The environments, the backend choice and the success measure are minigrid_caption's (examples/ is no package).
_spec = importlib.util.spec_from_file_location('minigrid_caption', Path(__file__).with_name('minigrid_caption.py'))
_minigrid_caption = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_minigrid_caption)
choose_backend, make_envs, measure, train = (_minigrid_caption.choose_backend, _minigrid_caption.make_envs,
                                             _minigrid_caption.measure, _minigrid_caption.train)

VOCABULARY = ['go', 'to', 'the', 'a', 'door', 'key', 'ball', 'box', *COLOR_NAMES]
PREPROCESSING = dict(image=[dict(type='one_hot', num_values=[len(OBJECT_TO_IDX), len(COLOR_NAMES),
                                                              len(STATE_TO_IDX)])],
                     mission=[dict(type='tokenize', length=6, vocabulary=VOCABULARY)])
AGENT = dict(shared_network=True, n_steps=128, batch_size=256, epochs=4, learning_rate=1e-3, entropy_coef=0.01,
             gae_lambda=0.95, discount=0.99, clip_range=0.2, max_grad_norm=0.5)
PUBLISHED = {'BabyAI 1.1 baselines, ~5 h': '0.97-0.99'}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description='PPO on BabyAI GoToLocal: symbolic view + mission -> action')
    parser.add_argument('--env', default='BabyAI-GoToLocal-v0')
    parser.add_argument('--budget', type=float, default=3600.0, help='training budget, process CPU seconds')
    parser.add_argument('--steps', type=int, default=100_000_000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--envs', type=int, default=16)
    parser.add_argument('--episodes', type=int, default=1000, help='evaluation episodes')
    parser.add_argument('--memory', type=int, default=0, help='LSTM size after the torso (0: feed-forward)')
    parser.add_argument('--backend', choices=('auto', 'envpool', 'minigrid'), default='auto')
    parser.add_argument('--out', default=os.path.join('runs', 'babyai'))
    args = parser.parse_args(argv)
    for flag in ('budget', 'steps', 'envs', 'episodes'):
        if getattr(args, flag) <= 0:
            parser.error(f'--{flag} must be positive; received {getattr(args, flag)}')
    for flag in ('seed', 'memory'):
        if getattr(args, flag) < 0:
            parser.error(f'--{flag} must be >= 0; received {getattr(args, flag)}')
    backend = choose_backend(parser, args.backend, args.env)
    os.makedirs(args.out, exist_ok=True)

    envs = make_envs(args.env, args.envs, backend, args.seed)
    network = dict(type='auto', size=128, patch=1, **({'rnn': args.memory} if args.memory else {}))
    config = dict(AGENT, batch_size=min(AGENT['batch_size'], AGENT['n_steps'] * args.envs))
    agent = PPO(envs.states, envs.actions, preprocessing=PREPROCESSING, network=network, num_envs=args.envs,
                seed=args.seed, **config)
    history, cpu, wall, path, curve = train(agent, envs, args, backend)
    envs.close()

    seed = 1_000_000 + args.seed * 10_000
    evaluation = make_envs(args.env, args.envs, backend, seed)
    rows = {'PPO (this run)': measure(agent, evaluation, args.episodes, seed),
            'random agent': measure(RandomAgent(evaluation.states, evaluation.actions, parallel=args.envs,
                                                seed=args.seed), evaluation, args.episodes, seed)}
    evaluation.close()
    print(f'{args.episodes} fresh episodes of {args.env} (sampled actions):')
    print(f"{'agent':32s} {'success':>9s} {'reward':>8s} {'length':>8s}")
    for name, row in rows.items():
        print(f"{name:32s} {row['success']:9.1%} {row['reward']:8.3f} {row['length']:8.1f}")
    for name, figure in PUBLISHED.items():
        print(f'{name:32s} {figure:>9s}')
    result = dict(env=args.env, backend=backend, seed=args.seed, memory=args.memory, timesteps=history.timesteps,
                  episodes=history.episodes, cpu_seconds=round(cpu, 1), wall_seconds=round(wall, 1),
                  load_average=round(os.getloadavg()[0], 2), curve=history.curve,
                  ppo=rows['PPO (this run)'], random=rows['random agent'])
    with open(os.path.join(args.out, 'results.json'), 'w') as file:
        json.dump(result, file, indent=1)
    print(f'saved the agent to {path}' + (f' and the learning curve to {curve}' if curve else ''))
    return dict(result, agent=agent, path=path)


if __name__ == '__main__':
    main()
