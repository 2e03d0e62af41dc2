import dm_env
import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from dm_env import specs as dm_specs
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from modalbridge.bridges import ConfigError
from modalbridge.preprocess import (PreprocessDMEnv, PreprocessObservation, PreprocessVectorObservation,
                                    PreprocessingLayer, Stack)

ale_py = pytest.importorskip('ale_py')
gymnasium.register_envs(ale_py)

ATARI = [dict(type='grayscale'), dict(type='image_resize', height=84, width=84),
         dict(type='normalize'), dict(type='sequence', length=4)]


def pong():
    return gymnasium.make('ALE/Pong-v5', frameskip=1, repeat_action_probability=0.0)


def play(env, steps, seed=0):
    rng = np.random.default_rng(seed)
    observation, _ = env.reset(seed=seed)
    observations = [observation]
    for _ in range(steps):
        observation, *_ = env.step(int(rng.integers(6)))
        observations.append(observation)
    return observations


def test_numpy_atari_stack_equals_gymnasium_atari_wrappers_on_pong():
    reference = FrameStackObservation(AtariPreprocessing(
        pong(), frame_skip=1, noop_max=0, screen_size=84, grayscale_obs=True, scale_obs=True), 4)
    ours = PreprocessObservation(pong(), ATARI, backend='numpy')
    assert ours.observation_space == gymnasium.spaces.Box(0.0, 1.0, (84, 84, 4), np.float32)
    for expected, got in zip(play(reference, 120), play(ours, 120)):
        assert np.array_equal(np.moveaxis(expected, 0, -1), got)


def test_tf_atari_stack_agrees_with_numpy_on_pong_frames():
    numpy_frames = play(PreprocessObservation(pong(), ATARI, backend='numpy'), 60)
    tf_frames = play(PreprocessObservation(pong(), ATARI, backend='tf'), 60)
    worst = max(np.abs(a - b).max() for a, b in zip(numpy_frames, tf_frames))
    assert worst <= 1.01 / 255


def test_vector_wrapper_restarts_the_sequence_of_autoreset_environments():
    envs = gymnasium.make_vec('CartPole-v1', num_envs=3, vectorization_mode='sync')
    env = PreprocessVectorObservation(envs, [dict(type='sequence', length=2, axis=0)])
    assert env.single_observation_space.shape == (8,)
    assert env.observation_space.shape == (3, 8)
    observation, _ = env.reset(seed=0)
    assert np.array_equal(observation[:, :4], observation[:, 4:])  # filled with the first frame
    done_before, checked = np.zeros(3, bool), 0
    for _ in range(200):
        observation, _, terminated, truncated, _ = env.step(np.zeros(3, np.int64))
        for index in np.flatnonzero(done_before):  # these sub-envs were reset in this step
            assert np.array_equal(observation[index, :4], observation[index, 4:])
            checked += 1
        done_before = terminated | truncated
    assert checked >= 3


class Catch(dm_env.Environment):
    """A small real dm_env environment with an image and a scalar observation."""

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def reset(self):
        self.t = 0
        return dm_env.restart(self._observe())

    def step(self, action):
        self.t += 1
        if self.t >= 3:
            return dm_env.termination(1.0, self._observe())
        return dm_env.transition(0.0, self._observe())

    def _observe(self):
        return dict(pixels=self.rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), t=np.float32(self.t))

    def observation_spec(self):
        return dict(pixels=dm_specs.BoundedArray((8, 8, 3), np.uint8, 0, 255, name='pixels'),
                    t=dm_specs.Array((), np.float32, name='t'))

    def action_spec(self):
        return dm_specs.DiscreteArray(3, name='action')


def test_dm_env_wrapper_preprocesses_and_resets_on_first():
    env = PreprocessDMEnv(Catch(), dict(pixels=['grayscale', 'normalize'], t=[dict(type='sequence', length=2)]))
    assert env.observation_spec()['pixels'].shape == (8, 8, 1)
    timestep = env.reset()
    assert timestep.first() and timestep.observation['t'].tolist() == [0.0, 0.0]
    assert env.step(0).observation['t'].tolist() == [0.0, 1.0]
    env.step(0)
    assert env.step(0).last()
    assert env.reset().observation['t'].tolist() == [0.0, 0.0]
    assert env.action_spec().num_values == 3


def test_dm_env_wrapper_refuses_nested_observations():
    class Nested(Catch):
        def observation_spec(self):
            return dict(camera=dict(pixels=dm_specs.Array((2,), np.float32)))
    with pytest.raises(ConfigError, match="PreprocessDMEnv: observation 'camera' is nested"):
        PreprocessDMEnv(Nested(), dict())


def test_keras_layer_runs_the_declaration_inside_a_model():
    states = dict(image=dict(type='int', shape=(12, 12, 3), min_value=0, max_value=255, dtype='uint8'),
                  caption=dict(type='text'))
    declaration = dict(image=['grayscale', dict(type='image_resize', height=6, width=6), 'normalize'],
                       caption=[dict(type='tokenize', length=3, vocabulary=['red', 'ball'])])
    layer = PreprocessingLayer(states, declaration)
    inputs = {'image': tf.keras.Input((12, 12, 3), dtype='uint8'), 'caption': tf.keras.Input((), dtype='string')}
    model = tf.keras.Model(inputs, layer(inputs))
    images = np.random.default_rng(0).integers(0, 256, (5, 12, 12, 3)).astype(np.uint8)
    out = model({'image': tf.constant(images), 'caption': tf.constant(['red ball'] * 5)})
    expected = Stack(states, declaration, num_envs=5, backend='numpy')(
        dict(image=images, caption=np.array(['red ball'] * 5, object)))
    np.testing.assert_allclose(out['image'].numpy(), expected['image'], atol=1.01 / 255)
    assert out['caption'].numpy().tolist() == [[2, 3, 0]] * 5
    again = PreprocessingLayer.from_config(layer.get_config())
    assert dict(again.stack.states) == dict(layer.stack.states)


def test_keras_layer_config_holds_the_vocabulary_and_loads_in_keras_safe_mode():
    from keras.src.saving.serialization_lib import SafeModeScope

    states = dict(x=dict(type='float', shape=(2,)), caption=dict(type='text'))
    layer = PreprocessingLayer(states, dict(caption=[dict(type='tokenize', length=2, corpus=['red ball'])]))
    assert layer.get_config()['preprocessing'] == dict(caption=[dict(type='tokenize', length=2,
                                                                     vocabulary=['ball', 'red'])])
    plug_in = PreprocessingLayer(states, dict(x=['tests.preprocess.plugins.double']))
    with SafeModeScope(True):
        with pytest.raises(ConfigError, match="'tests.preprocess.plugins.double' is not a registered plug-in"):
            PreprocessingLayer.from_config(plug_in.get_config())
    with SafeModeScope(False):
        assert PreprocessingLayer.from_config(plug_in.get_config()).stack.states['x'].shape == (2,)
