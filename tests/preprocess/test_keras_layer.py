"""`PreprocessingLayer` in Keras models: registered for `load_model`, exportable with `tokenize` inside."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from modalbridge.preprocess import Stack
from modalbridge.preprocess.keras_layer import PreprocessingLayer

STATES = dict(caption=dict(type='text'), x=dict(type='float', shape=(2,)))
DECLARATION = dict(caption=[dict(type='tokenize', length=4, vocabulary=['go', 'to', 'the', 'red', 'ball'])],
                   x=[dict(type='clip', min_value=-1, max_value=1)])
CAPTIONS = np.array(['go to the red ball', 'Go to the BLUE ball!', '', 'red red red red red'], object)
X = np.array([[0.5, -3.0], [2.0, 0.0], [0.0, 0.0], [-0.2, 1.5]], np.float32)


def model():
    inputs = {'caption': keras.Input((), dtype='string', name='caption'), 'x': keras.Input((2,), name='x')}
    out = PreprocessingLayer(STATES, DECLARATION)(inputs)
    return keras.Model(inputs, keras.layers.Concatenate()([keras.ops.cast(out['caption'], 'float32'), out['x']]))


def expected():
    out = Stack(STATES, DECLARATION, num_envs=len(X), backend='numpy')(dict(caption=CAPTIONS, x=X))
    return np.concatenate([out['caption'].astype(np.float32), out['x']], axis=1)


def inputs():
    return dict(caption=tf.constant(CAPTIONS.astype(str)), x=tf.constant(X))


def test_the_layer_gives_the_numpy_backends_ids_and_values():
    np.testing.assert_array_equal(model()(inputs()).numpy(), expected())
    assert expected()[:, :4].tolist() == [[2, 3, 4, 5], [2, 3, 4, 1], [0, 0, 0, 0], [5, 5, 5, 5]]


def test_load_model_needs_no_custom_objects(tmp_path):
    path = str(tmp_path / 'model.keras')
    model().save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded(inputs()).numpy(), expected())
    assert keras.saving.get_registered_name(PreprocessingLayer) == 'modalbridge>PreprocessingLayer'


def test_export_tracks_the_tokenizer_table_and_serves_the_same_ids(tmp_path):
    path = str(tmp_path / 'exported')
    model().export(path)  # raised AssertionError "untracked resource ... StaticHashTable" before
    loaded = tf.saved_model.load(path)
    served = loaded.serve(inputs())
    np.testing.assert_array_equal(served.numpy(), expected())


def test_a_plug_in_in_a_saved_model_does_not_load_in_keras_safe_mode(tmp_path):
    from modalbridge.bridges import ConfigError

    inputs_ = {'x': keras.Input((2,), name='x'), 'caption': keras.Input((), dtype='string', name='caption')}
    layer = PreprocessingLayer(STATES, dict(x=['tests.preprocess.plugins.double']), safe_mode=False)
    path = str(tmp_path / 'plug_in.keras')
    keras.Model(inputs_, layer(inputs_)['x']).save(path)
    with pytest.raises(ConfigError, match='not a registered plug-in'):
        keras.saving.load_model(path)
    assert keras.saving.load_model(path, safe_mode=False) is not None
