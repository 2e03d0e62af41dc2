"""One preprocessing declaration, dropped into plain Gymnasium code and into Keras.

    python examples/atari_preprocessing.py     (needs the `atari` extra: ale-py)

1. As a Gymnasium observation wrapper (NumPy/OpenCV backend, no TensorFlow
   in the env loop): Pong frames come out as 84x84x4 float32 stacks,
   identical to Gymnasium's AtariPreprocessing + FrameStackObservation.
2. The same declaration as a Keras layer in front of a small model.
"""

from __future__ import annotations

import time

import gymnasium
import numpy as np

from modalbridge.preprocess import PreprocessObservation

ATARI = [
    dict(type='grayscale'),                               # RGB -> gray, as cv2.cvtColor
    dict(type='image_resize', height=84, width=84),       # INTER_AREA, (height, width)
    dict(type='normalize'),                               # uint8 0..255 -> float32 0..1
    dict(type='sequence', length=4),                      # last 4 frames, oldest first
]


def main() -> None:
    import ale_py
    gymnasium.register_envs(ale_py)

    env = PreprocessObservation(gymnasium.make('ALE/Pong-v5', frameskip=1), ATARI)
    print('raw observation space:      ', env.env.observation_space)
    print('preprocessed observation space:', env.observation_space)
    observation, _ = env.reset(seed=0)
    start, steps = time.perf_counter(), 500
    for _ in range(steps):
        observation, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            observation, _ = env.reset()
    print(f'{steps} steps in {time.perf_counter() - start:.2f} s; last observation {observation.shape} '
          f'{observation.dtype} in [{observation.min():.2f}, {observation.max():.2f}]')

    import tensorflow as tf
    from modalbridge.preprocess import PreprocessingLayer

    keras = tf.keras
    states = dict(state=dict(type='int', shape=(210, 160, 3), min_value=0, max_value=255, dtype='uint8'))
    stateless = ATARI[:3]  # a Keras layer takes any batch size when the declaration keeps no memory
    frames = keras.Input((210, 160, 3), dtype='uint8', name='state')
    features = PreprocessingLayer(states, stateless)({'state': frames})['state']
    hidden = keras.layers.Conv2D(16, 8, strides=4, activation='relu')(features)
    logits = keras.layers.Dense(6)(keras.layers.Flatten()(hidden))
    model = keras.Model(frames, logits)
    raw = np.stack([env.unwrapped.ale.getScreenRGB()] * 2)
    print('Keras model on raw frames:', model(tf.constant(raw)).shape)


if __name__ == '__main__':
    main()
