"""The Atari stack per frame: ours vs Gymnasium's wrappers, every comparison interleaved.

    python bench/preprocess.py [--rounds 15] [--threads 1]

On real Pong frames (ale-py), one pinned core and one thread per library
(``--threads N``: N threads, unpinned, for cv2 across a batch):

- **over the raw step, 1 env**: the raw ALE step, Gymnasium's
  AtariPreprocessing + FrameStackObservation, our `PreprocessObservation`
  (NumPy backend) and the same work written by hand with OpenCV (output
  arrays allocated once, no checks: a floor for any wrapper on the RGB
  observation) stepped in the same rounds; the figure is, round by round,
  ``(ours - raw) / (gymnasium - raw)`` (target <= 0.75).
- **stored frames, per frame**: a hand-written OpenCV pipeline and our NumPy
  backend at 1, 8 and 64 envs, interleaved (the reference: the hand-written
  pipeline); then at 8 and 64 envs our TF backend with and without XLA
  against the NumPy backend (target at 64 envs: <= 1.0).
- **TF call overhead**: a trivial `tf.function` vs our TF stack of
  ``['center']`` on (1, 4).

Every ratio is the median of same-round ratios with its 25th-75th
percentile spread (`common.compare`), measured in this process's CPU time
(``--clock cpu``, the default: on this shared machine, what the wall time
would be on a quiet one; ``--clock wall`` for wall time; the JSON keeps
both medians); conditions go into bench/results/preprocess.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, pin, same_round, table, write  # noqa: E402

ATARI = [dict(type='grayscale'), dict(type='image_resize', height=84, width=84),
         dict(type='normalize'), dict(type='sequence', length=4)]
FRAME = dict(type='int', shape=(210, 160, 3), min_value=0, max_value=255, dtype='uint8')


def pong():
    import ale_py
    import gymnasium
    gymnasium.register_envs(ale_py)
    return gymnasium.make('ALE/Pong-v5', frameskip=1, repeat_action_probability=0.0)


def pong_frames(count: int):
    import numpy as np
    env = pong()
    frame, _ = env.reset(seed=0)
    frames = [frame]
    while len(frames) < count:
        frame, *_ = env.step(env.action_space.sample())
        frames.append(frame)
    return np.stack(frames)


def stepper(env):
    """`env.step(0)`, resetting at the end of an episode."""
    env.reset(seed=0)

    def step():
        _, _, terminated, truncated, _ = env.step(0)
        if terminated or truncated:
            env.reset()
    return step


def opencv_pipeline(frames):
    """What one would write by hand: gray, area resize, a ring of 4 uint8 frames, stacked and scaled."""
    import cv2
    import numpy as np
    ring = [np.zeros((84, 84), np.uint8)] * 4
    counter = iter(range(10 ** 9))

    def run():
        frame = frames[next(counter) % len(frames)]
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        ring.append(cv2.resize(gray, (84, 84), interpolation=cv2.INTER_AREA))
        del ring[0]
        return cv2.merge(ring).astype(np.float32) / np.float32(255)
    return run


def by_hand(env):
    """`env` with the Atari stack written by hand: gray and resize into arrays allocated once, each
    frame scaled once into a ring of float32 frames, one `cv2.merge` per step."""
    import cv2
    import gymnasium
    import numpy as np

    class ByHand(gymnasium.ObservationWrapper):
        def __init__(self, env):
            super().__init__(env)
            self.gray, self.small = np.empty((210, 160), np.uint8), np.empty((84, 84), np.uint8)
            self.ring, self.position = [np.zeros((84, 84), np.float32) for _ in range(4)], 0

        def observation(self, observation):
            cv2.cvtColor(observation, cv2.COLOR_RGB2GRAY, dst=self.gray)
            cv2.resize(self.gray, (84, 84), dst=self.small, interpolation=cv2.INTER_AREA)
            self.position = (self.position + 1) % 4
            np.divide(self.small, np.float32(255), out=self.ring[self.position])
            return cv2.merge([self.ring[(self.position + 1 + k) % 4] for k in range(4)])
    return ByHand(env)


def stack_call(frames, backend: str, num_envs: int, jit: bool = False):
    import numpy as np
    from modalbridge.preprocess import Stack
    stack = Stack(dict(image=FRAME), ATARI, num_envs=num_envs, backend=backend, jit_compile=jit)
    batches = [frames[np.arange(i, i + num_envs) % len(frames)] for i in range(4)]
    counter = iter(range(10 ** 9))
    call = lambda: stack(dict(image=batches[next(counter) % 4]))  # noqa: E731
    call()
    return call


def spread(figure: dict) -> str:
    return f"{figure['median']:.2f} [{figure['p25']:.2f}, {figure['p75']:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--skip-tf', action='store_true', help='only the NumPy rows')
    parser.add_argument('--clock', choices=['cpu', 'wall'], default='cpu',
                        help="what the figures measure: this process's CPU time (default) or wall time")
    parser.add_argument('--name', default='preprocess', help='the results file: bench/results/NAME.json')
    args = parser.parse_args()
    pin(core=0 if args.threads == 1 else None, threads=args.threads)
    import cv2
    cv2.setNumThreads(args.threads)
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation
    from modalbridge.preprocess import PreprocessObservation

    rows, figures = [], {}

    def add(group, name, seconds, frames=1, **extra):
        rows.append(dict(group=group, pipeline=name, us_per_frame=round(seconds / frames * 1e6, 1), **extra))

    # 1. Over the raw step, one environment.
    gymnasium_env = FrameStackObservation(AtariPreprocessing(
        pong(), frame_skip=1, noop_max=0, screen_size=84, grayscale_obs=True, scale_obs=True), 4)
    result = compare(dict(raw=stepper(pong()), gymnasium=stepper(gymnasium_env),
                          ours=stepper(PreprocessObservation(pong(), ATARI, backend='numpy')),
                          by_hand=stepper(by_hand(pong()))),
                     number=300, rounds=args.rounds, clock=args.clock)
    raw, gym, ours, hand = (result[name]['samples'] for name in ('raw', 'gymnasium', 'ours', 'by_hand'))
    over = same_round(lambda o, g, r: (o - r) / (g - r), ours, gym, raw)
    figures['numpy_over_step_vs_gymnasium'] = over
    figures['by_hand_over_step_vs_gymnasium'] = same_round(lambda o, g, r: (o - r) / (g - r), hand, gym, raw)
    figures['numpy_over_step_vs_by_hand'] = same_round(lambda o, h, r: (o - r) / (h - r), ours, hand, raw)
    for name in ('raw', 'gymnasium', 'ours', 'by_hand'):
        add('pong step, 1 env', name, result[name]['seconds'], ratio_to_raw=round(result[name]['ratio'], 3),
            wall_us=round(result[name]['wall_seconds'] * 1e6, 1))
    add('pong step, 1 env', 'gymnasium wrappers over raw',
        same_round(lambda g, r: g - r, gym, raw)['median'])
    add('pong step, 1 env', 'ours over raw', same_round(lambda o, r: o - r, ours, raw)['median'])
    add('pong step, 1 env', 'by hand over raw', same_round(lambda o, r: o - r, hand, raw)['median'])

    # 2. Stored frames: the NumPy backend per frame at 1, 8 and 64 envs vs the hand-written pipeline.
    frames = pong_frames(256)
    sizes = (1, 8, 64)
    variants = {'opencv by hand, 1 env': opencv_pipeline(frames)}
    variants.update({f'numpy, {n} envs': stack_call(frames, 'numpy', n) for n in sizes})
    result = compare(variants, number=64, rounds=args.rounds, clock=args.clock)
    hand = result['opencv by hand, 1 env']['samples']
    add('stored frames', 'opencv by hand, 1 env', result['opencv by hand, 1 env']['seconds'])
    for n in sizes:
        name = f'numpy, {n} envs'
        per_frame = same_round(lambda t, h, n=n: t / n / h, result[name]['samples'], hand)
        figures[f'numpy_{n}_vs_opencv_by_hand'] = per_frame
        add('stored frames', name, result[name]['seconds'] / 64 * 64, frames=n,
            ratio_to_hand=round(per_frame['median'], 2))

    # 3. The TF backend against the NumPy backend, per frame, batched.
    if not args.skip_tf:
        import numpy as np
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        for n in (8, 64):
            result = compare({'numpy': stack_call(frames, 'numpy', n), 'tf': stack_call(frames, 'tf', n),
                              'tf+xla': stack_call(frames, 'tf', n, jit=True)},
                             number=max(2, 256 // n), rounds=args.rounds, clock=args.clock)
            for name in ('numpy', 'tf', 'tf+xla'):
                figures[f'{name}_{n}_vs_numpy'] = dict(median=result[name]['ratio'], p25=result[name]['ratio_p25'],
                                                        p75=result[name]['ratio_p75'])
                add(f'stored frames, {n} envs', name, result[name]['seconds'], frames=n,
                    ratio_to_numpy=round(result[name]['ratio'], 2))
        trivial = tf.function(lambda x: x + 1.0)
        vector = np.ones((1, 4), np.float32)
        trivial(vector)
        from modalbridge.preprocess import Stack
        small = Stack(dict(x=dict(type='float', shape=(4,))), ['center'])
        result = compare({'trivial tf.function': lambda: trivial(vector),
                          "ours, ['center'] on (1, 4)": lambda: small(dict(x=vector))},
                         number=500, rounds=args.rounds, clock=args.clock)
        for name, value in result.items():
            add('tf call overhead', name, value['seconds'], ratio_to_trivial=round(value['ratio'], 2))
        figures['tf_call_vs_trivial'] = dict(median=result["ours, ['center'] on (1, 4)"]['ratio'],
                                             p25=result["ours, ['center'] on (1, 4)"]['ratio_p25'],
                                             p75=result["ours, ['center'] on (1, 4)"]['ratio_p75'])

    print(f'clock: {args.clock} ({"process CPU time" if args.clock == "cpu" else "wall time"})')
    print(table(rows, ['group', 'pipeline', 'us_per_frame', 'wall_us', 'ratio_to_raw', 'ratio_to_hand',
                       'ratio_to_numpy', 'ratio_to_trivial']))
    print()
    print(table([dict(figure=name, median_p25_p75=spread(value)) for name, value in figures.items()],
                ['figure', 'median_p25_p75']))
    print('targets: numpy_over_step_vs_gymnasium <= 0.75, tf_64_vs_numpy <= 1.0')
    print('wrote', write(args.name + (f'-threads{args.threads}' if args.threads != 1 else ''), rows,
                         figures=figures, rounds=args.rounds, threads=args.threads, clock=args.clock))


if __name__ == '__main__':
    main()
