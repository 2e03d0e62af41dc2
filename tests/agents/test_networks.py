import json
import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
import tensorflow as tf

from modalbridge.agents import networks
from modalbridge.bridges import ConfigError, plugins
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


@pytest.mark.parametrize('option, message', [
    (dict(patch=0), 'patch (pixels): expected an int >= 1; received 0'),
    (dict(patch=2.5), 'patch (pixels): expected an int >= 1; received 2.5'),
    (dict(patch=True), 'patch (pixels): expected an int >= 1; received True (a bool)'),
    (dict(patch=17), "patch 17 is larger than the image 'image' of shape (16, 16, 3)"),
    (dict(depth=-1), 'depth: expected an int >= 0; received -1'),
    (dict(size=True), 'size: expected an int >= 1; received True (a bool)'),
    (dict(size=0), 'size: expected an int >= 1; received 0'),
    (dict(size='64'), "size: expected an int >= 1; received '64'"),
])
def test_auto_bad_options_are_config_errors(option, message):
    with pytest.raises(ConfigError, match=re.escape(f'network (auto): {message}')):
        networks.build(STATES, dict(type='auto', **option))


def test_auto_depth_zero_has_no_torso():
    model = networks.build(dict(speed=STATES['speed']), dict(type='auto', depth=0))
    assert 'Dense' not in layer_types(model) and model({'speed': batch()['speed']}).shape == (4, 3)


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


def test_a_json_file_declaration_is_read_once_by_value(tmp_path):
    path = tmp_path / 'network.json'
    path.write_text(json.dumps([dict(type='dense', size=7)]))
    declaration = networks.declaration(str(path))
    assert declaration == [dict(type='dense', size=7)]
    path.write_text(json.dumps([dict(type='dense', size=3)]))  # a later change of the file changes nothing
    assert networks.build(dict(speed=STATES['speed']), declaration)({'speed': batch()['speed']}).shape == (4, 7)


def test_build_never_reads_a_path(tmp_path):
    path = tmp_path / 'network.json'
    path.write_text(json.dumps([dict(type='dense', size=7)]))
    with pytest.raises(ConfigError, match=r"network: expected 'auto' or a declaration; received the string "
                                          r"'.*network.json' \(to use a JSON file, pass networks.declaration"):
        networks.build(dict(speed=STATES['speed']), str(path))


def test_declaration_copies_and_refuses_unreadable_files(tmp_path):
    original = [dict(type='dense', size=7)]
    copied = networks.declaration(original)
    copied[0]['size'] = 1
    assert original == [dict(type='dense', size=7)]
    assert networks.declaration('auto') == 'auto'
    with pytest.raises(ConfigError, match="network: cannot read '/no/such/network.json'"):
        networks.declaration('/no/such/network.json')
    (tmp_path / 'bad.json').write_bytes(b'[' * 100_000)
    with pytest.raises(ConfigError, match="network: '.*bad.json' is nested too deep"):
        networks.declaration(tmp_path / 'bad.json')


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
    (dict(speed=[dict(type='dense', size=True)]), "network['speed'][0] (dense): size: expected an int >= 1; "
                                                  "received True (a bool)"),
    (dict(speed=[dict(type='dense', size=4, l2_regularization=float('nan'))]),
     "network['speed'][0] (dense): l2_regularization: expected a finite number >= 0; received nan"),
    (dict(image=[dict(type='conv2d', size=4, window=[3, 0])]),
     "network['image'][0] (conv2d): window[1]: expected an int >= 1; received 0"),
    (dict(speed=[dict(type='dropout', rate=2)]),
     "network['speed'][0] (dropout): rate: expected a finite number in [0, 1]; received 2.0"),
    (dict(speed=[dict(type='dense', size=4, units=3)]), "network['speed'][0] (dense): bad arguments:"),
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


@pytest.mark.parametrize('returned, kind', [(None, 'NoneType'), (3.0, 'float'), ([], 'list')])
def test_a_builder_that_returns_no_tensor_is_a_config_error(returned, kind):
    with pytest.raises(ConfigError, match=f"network: the builder 'builder' must return one Keras tensor computed "
                                          f'from its inputs; it returned {kind}'):
        def builder(inputs):
            return returned
        networks.build(STATES, builder)


def test_user_layer_by_dotted_path():
    model = networks.build(dict(speed=STATES['speed']), [dict(type='keras.layers.Dense', units=3)])
    assert model({'speed': batch()['speed']}).shape == (4, 3)


PAYLOAD = """
import pathlib
pathlib.Path('PWNED').write_text('the payload ran')
from keras.layers import Dense
"""


@pytest.fixture
def payload_in_the_current_directory(tmp_path, monkeypatch):
    """A `payload.py` with a side effect in the current directory, which is on sys.path (as in a REPL)."""
    (tmp_path / 'payload.py').write_text(PAYLOAD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop('payload', None)


@pytest.mark.parametrize('declaration', [
    [dict(type='payload.Dense', units=3)],
    dict(speed=[dict(type='payload.Dense', units=3)]),
    dict(layers=[dict(type='payload.Dense', units=3)]),
], ids=['list', 'per-state', 'layers-after'])
def test_safe_mode_does_not_import_a_dotted_type(payload_in_the_current_directory, declaration):
    with pytest.raises(ConfigError, match=r"\(payload.Dense\): 'payload.Dense' is not a registered plug-in, and "
                                          r'safe mode refuses to import it; register it in code .* or load with '
                                          r'safe_mode=False'):
        networks.build(dict(speed=STATES['speed']), declaration, safe_mode=True)
    assert 'payload' not in sys.modules
    assert not (payload_in_the_current_directory / 'PWNED').exists()


def test_without_safe_mode_the_users_own_dotted_type_resolves(payload_in_the_current_directory):
    model = networks.build(dict(speed=STATES['speed']), [dict(type='payload.Dense', units=3)])
    assert model({'speed': batch()['speed']}).shape == (4, 3)
    assert (payload_in_the_current_directory / 'PWNED').exists()  # the user asked for it


def test_safe_mode_refuses_a_saved_model_layer(tmp_path):
    entry = dict(type='keras.layers.TFSMLayer', filepath=str(tmp_path / 'model'), call_endpoint='serve')
    with pytest.raises(ConfigError, match=r"network\[0\] \(keras.layers.TFSMLayer\): 'keras.layers.TFSMLayer' is "
                                          'not a registered plug-in, and safe mode refuses'):
        networks.build(dict(speed=STATES['speed']), [entry], safe_mode=True)
    with pytest.raises(ConfigError, match="'keras.layers.Lambda' is not a registered plug-in"):
        networks.build(dict(speed=STATES['speed']), [dict(type='keras.layers.Lambda', function='abs')],
                       safe_mode=True)


def test_safe_mode_refuses_keras_object_configs_as_arguments(payload_in_the_current_directory):
    initializer = dict(module='payload', class_name='Dense', config={}, registered_name='payload.Dense')
    with pytest.raises(ConfigError, match=r"network\[0\] \(dense\): argument 'kernel_initializer': safe mode "
                                          'accepts only numbers, strings, bools and lists'):
        networks.build(dict(speed=STATES['speed']), [dict(type='dense', size=3, kernel_initializer=initializer)],
                       safe_mode=True)
    assert 'payload' not in sys.modules


def test_safe_mode_resolves_registered_plug_ins():
    @plugins.register('tests.networks.Gate')
    class Gate(tf.keras.layers.Layer):
        def call(self, x):
            return x * 2.0
    model = networks.build(dict(speed=STATES['speed']), [dict(type='tests.networks.Gate')], safe_mode=True)
    np.testing.assert_allclose(model({'speed': batch()['speed']}), 2 * batch()['speed'])


def test_safe_mode_builds_the_built_in_forms():
    for declaration in ('auto', dict(type='auto', size=8), [dict(type='dense', size=4, activation='relu')]):
        networks.build(dict(speed=STATES['speed']), declaration, safe_mode=True)


VALUES = st.none() | st.booleans() | st.integers(-3, 70) | st.floats(-2, 2) | st.text(max_size=6) | st.sampled_from(
    ['relu', 'same', 'valid', 'max', 'average', 'payload.Dense', 'keras.layers.Lambda', 'tanh'])
ENTRY = st.fixed_dictionaries(
    dict(type=st.sampled_from(list(networks.LAYER_TYPES) + ['auto', 'payload.Dense', 'keras.layers.Dense', 3])),
    optional={key: VALUES | st.lists(VALUES, max_size=2) | st.dictionaries(st.text(max_size=4), VALUES, max_size=2)
              for key in ('size', 'window', 'stride', 'rate', 'activation', 'num_embeddings', 'l2_regularization',
                          'reduction', 'units', 'padding', 'bias')})
DECLARATION = (st.lists(ENTRY, max_size=3)
               | st.fixed_dictionaries({}, optional=dict(image=st.lists(ENTRY, max_size=2),
                                                          caption=st.lists(ENTRY, max_size=2),
                                                          combine=VALUES, layers=st.lists(ENTRY, max_size=2)))
               | st.fixed_dictionaries(dict(type=st.just('auto')), optional=dict(size=VALUES, depth=VALUES,
                                                                                  patch=VALUES)))


@settings(max_examples=120, deadline=None)
@given(declaration=DECLARATION, single=st.booleans())
def test_any_declaration_builds_or_is_a_config_error_and_imports_nothing_in_safe_mode(declaration, single):
    states = dict(speed=STATES['speed']) if single else dict(image=STATES['image'], caption=STATES['caption'])
    try:
        networks.build(states, declaration, safe_mode=True)
    except ConfigError:
        pass
    assert 'payload' not in sys.modules


def test_states_whose_keras_input_names_collide_are_refused():
    states = as_specs({'a/b': dict(type='float', shape=(2,)), 'a__b': dict(type='float', shape=(2,))})
    with pytest.raises(ConfigError, match="'a/b' and 'a__b'"):
        networks.build(states)


def test_no_states_is_refused():
    with pytest.raises(ConfigError, match='at least one state'):
        networks.build(as_specs({}))


def test_dense_orthogonal_kernels_take_a_gain_in_plain_values_that_load_in_safe_mode():
    """Stable-Baselines3's MLP initialisation: orthogonal, gain sqrt(2) (examples/cartpole_ppo.py)."""
    speed = as_specs(dict(speed=dict(type='float', shape=(3,))))
    layer = dict(type='dense', size=8, activation='tanh', kernel_initializer='orthogonal', gain=2 ** 0.5)
    model = networks.build(speed, json.loads(json.dumps([layer, dict(layer)])), safe_mode=True)
    first, second = [w.numpy() for w in model.weights if w.path.endswith('kernel')]
    assert np.allclose(first @ first.T, 2 * np.eye(3), atol=1e-5)    # (3, 8): orthogonal rows of norm sqrt(2)
    assert np.allclose(second.T @ second, 2 * np.eye(8), atol=1e-5)  # (8, 8)
    plain = networks.build(speed, [dict(type='dense', size=8, kernel_initializer='orthogonal')])
    kernel = [w.numpy() for w in plain.weights if w.path.endswith('kernel')][0]
    assert np.allclose(kernel @ kernel.T, np.eye(3), atol=1e-5)       # Keras's own name: gain 1


@pytest.mark.parametrize('arguments, message', [
    (dict(gain=2.0), "gain: only with kernel_initializer='orthogonal'; received kernel_initializer='glorot_uniform'"),
    (dict(kernel_initializer='he_normal', gain=2.0), "gain: only with kernel_initializer='orthogonal'"),
    (dict(kernel_initializer='orthogonal', gain=0.0), 'gain: expected a finite number > 0'),
    (dict(kernel_initializer='orthogonal', gain=True), 'gain'),
    (dict(kernel_initializer='orthogonal', gain=float('nan')), 'gain'),
])
def test_a_gain_without_orthogonal_kernels_or_out_of_range_is_a_config_error(arguments, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        networks.build(as_specs(dict(speed=dict(type='float', shape=(3,)))),
                       [dict(type='dense', size=8, **arguments)])
