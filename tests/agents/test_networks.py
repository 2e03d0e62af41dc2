import json
import re

import numpy as np
import pytest
import tensorflow as tf

from modalbridge.agents import networks
from modalbridge.bridges import ConfigError
from modalbridge.bridges.specs import as_specs

STATES = as_specs(dict(image=dict(type='float', shape=(16, 16, 3), min_value=0.0, max_value=1.0),
                       caption=dict(type='int', shape=(6,), num_values=10, dtype='int32'),
                       speed=dict(type='float', shape=(3,))))


def batch(size=4):
    rng = np.random.default_rng(0)
    return dict(image=rng.random((size, 16, 16, 3)).astype(np.float32),
                caption=rng.integers(0, 10, (size, 6)).astype(np.int32),
                speed=rng.normal(size=(size, 3)).astype(np.float32))


def layer_types(model):
    return {type(layer).__name__ for layer in model.layers}


def test_auto_encodes_images_by_convolution_and_captions_by_embedding_and_lstm():
    model = networks.build(STATES, 'auto')
    assert {'Conv2D', 'Embedding', 'LSTM', 'Concatenate', 'Dense'} <= layer_types(model)
    assert model(batch()).shape == (4, 64)


def test_auto_options():
    model = networks.build(STATES, dict(type='auto', size=32, depth=1))
    assert model(batch()).shape == (4, 32)
    with pytest.raises(ConfigError, match=r"network \(auto\): unknown option\(s\) \['width'\]"):
        networks.build(STATES, dict(type='auto', width=3))


def test_auto_patch_embeds_one_vector_per_grid_cell():
    model = networks.build(STATES, dict(type='auto', patch=4))
    first = next(layer for layer in model.layers if type(layer).__name__ == 'Conv2D')
    assert first.kernel_size == (4, 4) and first.strides == (4, 4)
    assert first.output.shape[1:3] == (4, 4)
    assert model(batch()).shape == (4, 64)


@pytest.mark.parametrize('patch, message', [
    (0, 'patch must be a positive int (pixels); received 0'),
    (2.5, 'patch must be a positive int (pixels); received 2.5'),
    (17, "patch 17 is larger than the image 'image' of shape (16, 16, 3)"),
])
def test_auto_bad_patch_is_a_config_error(patch, message):
    with pytest.raises(ConfigError, match=re.escape(f'network (auto): {message}')):
        networks.build(STATES, dict(type='auto', patch=patch))


def test_auto_caption_modulates_the_image_features_film():
    states = dict(image=STATES['image'], caption=STATES['caption'])
    model = networks.build(states, 'auto')
    # no concatenation: the caption reaches the torso only through the image's modulated maps
    assert 'Concatenate' not in layer_types(model)
    inputs = {name: batch(2)[name] for name in states}
    inputs['caption'][1] = (inputs['caption'][0] + 1) % 10
    inputs['image'][1] = inputs['image'][0]
    out = model(inputs).numpy()
    assert not np.allclose(out[0], out[1])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(inputs))
    assert all(g is not None for g in tape.gradient(loss, model.trainable_variables))


def test_list_of_layers_on_a_single_state():
    model = networks.build(dict(image=STATES['image']),
                           [dict(type='conv2d', size=8, window=3, stride=2), dict(type='pool2d', window=2),
                            dict(type='flatten'), dict(type='dense', size=16, l2_regularization=0.01),
                            dict(type='dropout', rate=0.1), dict(type='activation', nonlinearity='relu')])
    assert model({'image': batch()['image']}).shape == (4, 16)
    assert len(model.losses) == 1


def test_dict_of_per_state_lists_with_combine_and_layers_after():
    declaration = dict(image=[dict(type='conv2d', size=8), dict(type='flatten'), dict(type='dense', size=16)],
                       caption=[dict(type='embedding', size=8), dict(type='gru', size=16)],
                       speed=[dict(type='dense', size=16)],
                       combine='sum', layers=[dict(type='dense', size=5)])
    assert networks.build(STATES, declaration)(batch()).shape == (4, 5)
    declaration['combine'] = 'concat'
    assert networks.build(STATES, declaration)(batch()).shape == (4, 5)


def test_a_python_builder_function():
    def builder(inputs):
        return tf.keras.layers.Concatenate()([tf.keras.layers.Flatten()(inputs['image']), inputs['speed']])
    model = networks.build(dict(image=STATES['image'], speed=STATES['speed']), builder)
    assert model({'image': batch()['image'], 'speed': batch()['speed']}).shape == (4, 16 * 16 * 3 + 3)


def test_a_json_file_declaration(tmp_path):
    path = tmp_path / 'network.json'
    path.write_text(json.dumps([dict(type='dense', size=7)]))
    assert networks.build(dict(speed=STATES['speed']), str(path))({'speed': batch()['speed']}).shape == (4, 7)


def test_text_states_are_refused_with_a_tokenize_hint():
    with pytest.raises(ConfigError) as caught:
        networks.build(dict(caption=dict(type='text')), 'auto')
    assert str(caught.value) == ("state 'caption' is text (text); networks take numbers: add "
                                 "dict(type='tokenize', vocabulary=[...] or corpus=[...]) to its preprocessing")


@pytest.mark.parametrize('declaration, message', [
    (dict(image=[dict(type='flatten'), dict(type='conv2d', size=8)]),
     "network['image'][1] (conv2d): cannot apply to its input of shape (None, 768)"),
    (dict(image=[dict(type='convolution', size=8)]), "network['image'][0] (convolution): unknown layer type"),
    (dict(image=[dict(type='dense')]), "network['image'][0] (dense): missing argument 'size'"),
    (dict(image=[dict(type='pool2d', reduction='min')]), "network['image'][0] (pool2d): reduction must be 'max' or 'average'"),
    (dict(speed=[dict(type='embedding', size=4)]),
     "network['speed'][0] (embedding): needs num_embeddings, or to be first on a discrete state"),
    (dict(image=['dense']), "network['image'][0] (dense): expected dict(type=..., ...)"),
    (dict(imgae=[]), "network['imgae']: no state of that name"),
    (dict(combine='max'), "network['combine']: expected one of ['concat', 'multiply', 'sum']"),
    (dict(combine='sum'), "network: 'sum' needs equal shapes"),
    (dict(layers=[dict(type='keras.layers.NotALayer')]), "network['layers'][0] (keras.layers.NotALayer): module 'keras.layers' has no 'NotALayer'"),
    ([dict(type='dense', size=4)], 'network: a list of layers applies to a single state, but there are 3'),
    (42, "network: expected 'auto', a list or dict of layer dicts"),
    ('/no/such/network.json', "network: cannot read the JSON file '/no/such/network.json'"),
])
def test_misconfigured_networks_name_the_place(declaration, message):
    with pytest.raises(ConfigError) as caught:
        networks.build(STATES, declaration)
    assert message in str(caught.value)


def test_a_failing_builder_function_is_a_config_error():
    def builder(inputs):
        return inputs['missing']
    with pytest.raises(ConfigError, match=r"network: the builder 'builder' failed: KeyError\('missing'\)"):
        networks.build(STATES, builder)


def test_user_layer_by_dotted_path():
    model = networks.build(dict(speed=STATES['speed']), [dict(type='keras.layers.Dense', units=3)])
    assert model({'speed': batch()['speed']}).shape == (4, 3)
