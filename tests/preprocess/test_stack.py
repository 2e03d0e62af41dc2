import json
import subprocess
import sys

import numpy as np
import pytest

from modalbridge.bridges import ConfigError, SpecError
from modalbridge.preprocess import Stack

from tests.preprocess.helpers import both, image, image_spec

STATES = dict(image=image_spec((12, 12, 3)), caption=dict(type='text'), speed=dict(type='float', shape=(2,)))
ATARI_LIKE = dict(image=[dict(type='grayscale'), dict(type='image_resize', height=6, width=6),
                         dict(type='normalize'), dict(type='sequence', length=4)],
                  caption=[dict(type='tokenize', length=4, vocabulary=['red', 'ball'])])


def batch(num_envs=2, seed=0):
    return dict(image=image((num_envs, 12, 12, 3), seed=seed),
                caption=np.array(['red ball'] * num_envs, dtype=object),
                speed=np.ones((num_envs, 2), np.float32))


def test_output_specs_are_computed_at_construction_and_unnamed_states_pass_through():
    stack = Stack(STATES, ATARI_LIKE, num_envs=2, backend='numpy')
    assert stack.states['image'].shape == (6, 6, 4) and stack.states['image'].dtype == np.float32
    assert stack.states['caption'].shape == (4,) and stack.states['caption'].maximum == 3
    assert stack.states['speed'] is stack.input_states['speed']
    out = stack(batch())
    assert list(out) == ['image', 'caption', 'speed']
    assert np.array_equal(out['speed'], batch()['speed'])


def test_kwargs_form_and_bare_type_names_are_the_same_declaration():
    plain = Stack(STATES, dict(image=[dict(type='image_resize', height=6, width=6), 'center']), backend='numpy')
    kwargs = Stack(STATES, dict(image=[dict(type='image_resize', kwargs=dict(height=6, width=6)),
                                       dict(type='center')]), backend='numpy')
    assert plain.preprocessing == kwargs.preprocessing
    assert dict(plain.states) == dict(kwargs.states)


def test_declaration_from_a_json_file(tmp_path):
    path = tmp_path / 'preprocessing.json'
    path.write_text(json.dumps(ATARI_LIKE))
    stack = Stack(STATES, str(path), num_envs=2, backend='numpy')
    assert stack.preprocessing == Stack(STATES, ATARI_LIKE, num_envs=2, backend='numpy').preprocessing
    assert json.loads(json.dumps(stack.config())) == ATARI_LIKE


def test_both_backends_agree_on_a_multimodal_stack():
    both(STATES, ATARI_LIKE, [batch(seed=s) for s in range(4)], atol=1.01 / 255, num_envs=2,
         resets={2: np.array([True, False])})


def test_the_tf_function_is_traced_once_over_100_calls():
    stack = Stack(STATES, ATARI_LIKE, num_envs=2)
    for step in range(100):
        stack(batch(seed=step % 3))
        if step % 10 == 0:
            stack.reset(np.array([True, False]))
    assert stack.tracing_count == 1


def test_numeric_stacks_compile_with_xla():
    declaration = dict(image=ATARI_LIKE['image'])
    xla = Stack(dict(image=STATES['image']), declaration, num_envs=2, jit_compile=True)
    plain = Stack(dict(image=STATES['image']), declaration, num_envs=2, backend='numpy')
    for seed in range(3):
        x = dict(image=batch(seed=seed)['image'])
        np.testing.assert_allclose(xla(x)['image'], plain(x)['image'], atol=1.01 / 255)
    assert xla.tracing_count == 1


def test_xla_refuses_text_states():
    with pytest.raises(ConfigError, match=r"jit_compile: the text state\(s\) \['caption'\] use string ops"):
        Stack(STATES, ATARI_LIKE, jit_compile=True)


def test_a_single_unbatched_state_dict_is_accepted_with_one_env():
    stack = Stack(STATES, ATARI_LIKE, backend='numpy')
    single = {name: value[0] for name, value in batch(1).items()}
    out = stack(single)
    assert out['image'].shape == (6, 6, 4) and out['caption'].shape == (4,)


@pytest.mark.parametrize('declaration, message', [
    (dict(image=['centre']), "preprocessing['image'][0] (centre): unknown type 'centre' (did you mean 'center'?)"),
    (dict(image=[dict(type='image_resize', height=6, width=6), 'normalize', 'tokenize']),
     "preprocessing['image'][2] (tokenize): expects text (a scalar StringArray); got float32 array of shape "
     "(6, 6, 3) in [0.0, 1.0]"),
    (dict(imgae=['center']), "preprocessing['imgae']: no state named 'imgae' (did you mean 'image'?)"),
    (['center'], "preprocessing: a list applies to a single state, but there are 3"),
    (dict(image=[dict(height=3)]), "preprocessing['image'][0]: expected dict(type=..., ...) or a type name"),
    (dict(image=[dict(type='crop', top=0)]), "preprocessing['image'][0] (crop): missing argument(s) "
                                             "['height', 'left', 'width']; crop takes ['top', 'left', 'height', 'width']"),
    (dict(image=[dict(type='center', size=3)]), "preprocessing['image'][0] (center): unknown argument(s) ['size']"),
    (dict(image=[dict(type='clip', min_value=0, kwargs=dict(min_value=1))]),
     "preprocessing['image'][0]: ['min_value'] given both beside type and in kwargs"),
    (dict(image=[dict(type='tests.preprocess.plugins.missing')]),
     "preprocessing['image'][0] (tests.preprocess.plugins.missing): module 'tests.preprocess.plugins' has no 'missing'"),
    (dict(image=[dict(type='no_such_package.fn')]),
     "preprocessing['image'][0] (no_such_package.fn): cannot import 'no_such_package'"),
    (dict(image=[dict(type='tests.preprocess.plugins.NOT_CALLABLE')]),
     'is neither a Preprocessor subclass nor a function'),
    (3, 'preprocessing: expected a list, a dict of lists or a JSON file path; received int'),
    ('/no/such/file.json', "preprocessing: cannot read the JSON file '/no/such/file.json'"),
])
def test_misconfigurations_are_refused_at_construction_naming_the_place(declaration, message):
    with pytest.raises(ConfigError) as caught:
        Stack(STATES, declaration, backend='numpy')
    assert message in str(caught.value)


@pytest.mark.parametrize('option, message', [
    (dict(backend='jax'), "backend: expected one of ['tf', 'numpy']; received 'jax'"),
    (dict(num_envs=0), 'num_envs: expected an int >= 1; received 0'),
])
def test_bad_stack_options(option, message):
    with pytest.raises(ConfigError, match=message.replace('[', r'\[').replace(']', r'\]')):
        Stack(STATES, ATARI_LIKE, **option)


@pytest.mark.parametrize('states, key, message', [
    (dict(caption=np.array(['a', 'b'], object), speed=np.ones((2, 2), np.float32)), 'image', "missing ['image']"),
    ({**batch(), 'image': image((3, 12, 12, 3))}, 'image', 'shape (3, 12, 12, 3)'),
    ({**batch(), 'image': batch()['image'].astype(np.float32)}, 'image', 'dtype float32'),
])
def test_bad_inputs_raise_spec_error_naming_the_state(states, key, message):
    stack = Stack(STATES, ATARI_LIKE, num_envs=2, backend='numpy')
    with pytest.raises(SpecError) as caught:
        stack(states)
    assert caught.value.key == key and message in str(caught.value)


def test_user_function_and_preprocessor_subclass_by_dotted_path():
    declaration = dict(speed=['tests.preprocess.plugins.double',
                              dict(type='tests.preprocess.plugins.Negate', offset=1.0)])
    stack, out = both(STATES, declaration, [batch()], num_envs=2)
    assert out[0]['speed'].tolist() == [[-1.0, -1.0], [-1.0, -1.0]]
    assert stack.states['speed'].shape == (2,)


def test_numpy_backend_never_imports_tensorflow():
    code = ('import sys, numpy as np; from modalbridge.preprocess import Stack; '
            's = Stack(dict(x=dict(type="float", shape=(2,))), ["center", dict(type="sequence", length=2)], backend="numpy"); '
            's(dict(x=np.ones((1, 2), np.float32))); print("tensorflow" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == 'False'
