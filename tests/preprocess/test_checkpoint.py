"""A stack as part of a checkpoint: its declaration by value, its named state, pickling."""

import json
import pickle

import numpy as np
import pytest

from modalbridge.bridges import ConfigError
from modalbridge.preprocess import Stack

from tests.preprocess.helpers import image, image_spec

STATES = dict(image=image_spec((12, 12, 3)), caption=dict(type='text'), speed=dict(type='float', shape=(2,)))
DECLARATION = dict(
    image=['grayscale', dict(type='image_resize', height=6, width=6), dict(type='sequence', length=3)],
    caption=[dict(type='tokenize', length=4, corpus=['go to the red ball', 'go to the blue key'])],
    speed=['running_standardize', dict(type='sequence', length=2), dict(type='running_standardize', epsilon=1e-6)])
NAMES = ['image/sequence/buffer', 'speed/running_standardize/mean', 'speed/running_standardize/var',
         'speed/running_standardize/count', 'speed/running_standardize/frozen', 'speed/sequence/buffer',
         'speed/running_standardize_1/mean', 'speed/running_standardize_1/var', 'speed/running_standardize_1/count',
         'speed/running_standardize_1/frozen', 'stack/first']


def batch(seed, num_envs=2):
    rng = np.random.default_rng(seed)
    return dict(image=image((num_envs, 12, 12, 3), seed=seed),
                caption=np.array(['go to the red ball', 'the green box'][:num_envs], object),
                speed=rng.normal(size=(num_envs, 2)).astype(np.float32))


def run(stack, seeds, resets=()):
    outputs = []
    for seed in seeds:
        if seed in resets:
            stack.reset(np.array([True, False]))
        outputs.append(stack(batch(seed)))
    return outputs


def assert_same(a, b):
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for name in x:
            assert x[name].dtype == y[name].dtype and np.array_equal(x[name], y[name]), name


def test_config_is_the_declaration_by_value_and_json():
    stack = Stack(STATES, DECLARATION, num_envs=2, backend='numpy')
    config = stack.config()
    assert json.loads(json.dumps(config)) == config
    assert config['caption'] == [dict(type='tokenize', length=4, vocabulary=[
        'go', 'the', 'to', 'ball', 'blue', 'key', 'red'])]
    assert config['image'][1] == dict(type='image_resize', height=6, width=6)


def test_config_of_a_declaration_file_holds_its_contents_not_its_path(tmp_path):
    path = tmp_path / 'preprocessing.json'
    path.write_text(json.dumps(dict(speed=[dict(type='clip', min_value=np.float64(-1).item(), max_value=1)])))
    config = Stack(STATES, str(path), backend='numpy').config()
    assert config == dict(speed=[dict(type='clip', min_value=-1.0, max_value=1)])
    assert str(tmp_path) not in json.dumps(config)


def test_numpy_scalars_in_a_declaration_come_back_as_json_numbers():
    stack = Stack(STATES, dict(image=[dict(type='image_resize', height=np.int64(6), width=6)]), backend='numpy')
    assert json.dumps(stack.config()) == '{"image": [{"type": "image_resize", "height": 6, "width": 6}]}'


def test_state_names_are_public():
    stack = Stack(STATES, DECLARATION, num_envs=2, backend='numpy')
    state = stack.state()
    assert sorted(state) == sorted(NAMES)
    assert state['speed/running_standardize/count'] == 1e-4 and state['image/sequence/buffer'].shape == (2, 3, 6, 6, 1)
    assert state['stack/first'].tolist() == [True, True]


@pytest.mark.parametrize('backend', ['numpy', 'tf'])
def test_config_and_state_rebuild_a_stack_that_continues_exactly(backend):
    stack = Stack(STATES, DECLARATION, num_envs=2, backend=backend)
    run(stack, range(4), resets={2})
    stack.reset(np.array([False, True]))
    copy = Stack(STATES, stack.config(), num_envs=2, backend=backend)
    copy.load_state(stack.state())
    assert_same(run(stack, range(4, 8), resets={6}), run(copy, range(4, 8), resets={6}))


@pytest.mark.parametrize('backend', ['numpy', 'tf'])
def test_a_stack_pickles_with_its_state(backend):
    stack = Stack(STATES, DECLARATION, num_envs=2, backend=backend)
    run(stack, range(3))
    stack.freeze()
    copy = pickle.loads(pickle.dumps(stack))
    assert copy.frozen and copy.backend == backend and copy.num_envs == 2
    assert_same(run(stack, range(3, 6)), run(copy, range(3, 6)))


def test_state_moves_between_backends():
    numpy_stack = Stack(STATES, DECLARATION, num_envs=2, backend='numpy')
    run(numpy_stack, range(3))
    tf_stack = Stack(STATES, numpy_stack.config(), num_envs=2, backend='tf')
    tf_stack.load_state(numpy_stack.state())
    for a, b in zip(run(numpy_stack, range(3, 5)), run(tf_stack, range(3, 5))):
        for name in a:
            np.testing.assert_allclose(a[name].astype(float), b[name].astype(float), atol=1.01 / 255, rtol=1e-5)


@pytest.mark.parametrize('backend', ['numpy', 'tf'])
def test_freeze_is_public_and_part_of_the_state(backend):
    stack = Stack(STATES, DECLARATION, num_envs=2, backend=backend)
    assert not stack.frozen
    stack.freeze()
    assert stack.frozen and stack.state()['speed/running_standardize/frozen']
    frozen = stack.state()
    run(stack, range(2))
    after = stack.state()
    assert after['speed/running_standardize/mean'].tolist() == frozen['speed/running_standardize/mean'].tolist()
    copy = Stack(STATES, stack.config(), num_envs=2, backend=backend)
    copy.load_state(frozen)
    assert copy.frozen
    stack.freeze(False)
    run(stack, range(2))
    assert not stack.frozen and stack.state()['speed/running_standardize/count'] > frozen['speed/running_standardize/count']


def change(state, name, value):
    return {**state, name: value}


@pytest.mark.parametrize('edit, message', [
    (lambda s: {k: v for k, v in s.items() if k != 'stack/first'}, r"missing \['stack/first'\]"),
    (lambda s: change(s, 'image/sequence/buffr', 0), r"unknown \['image/sequence/buffr'\]"),
    (lambda s: change(s, 'speed/running_standardize/mean', np.zeros(3)),
     r"'speed/running_standardize/mean': expected float64 array of shape \(2,\); received float64 array of shape \(3,\)"),
    (lambda s: change(s, 'image/sequence/buffer', s['image/sequence/buffer'].astype(np.int64)),
     r"'image/sequence/buffer': expected uint8 array .* received int64"),
    (lambda s: change(s, 'speed/running_standardize/var', np.array([np.nan, 1.0])),
     "'speed/running_standardize/var' holds a non-finite value"),
    (lambda s: change(s, 'stack/first', object()), "'stack/first': expected bool array of shape"),
    (lambda s: change(s, 'speed/running_standardize_1/count', np.array(0.0)),
     r"'speed/running_standardize_1': running_standardize needs var >= 0 and count > 0; received var 1.0 "
     r"\(smallest\), count 0.0"),
    (lambda s: list(s), 'expected a dict of named arrays; received list'),
])
def test_load_state_refuses_a_state_that_does_not_fit(edit, message):
    stack = Stack(STATES, DECLARATION, num_envs=2, backend='numpy')
    with pytest.raises(ConfigError, match='load_state: .*' + message):
        stack.load_state(edit(stack.state()))


def test_a_stateful_plug_in_that_does_not_name_its_state_gets_numbered_names():
    stack = Stack(STATES, dict(speed=['tests.preprocess.plugins.Count']), backend='numpy')
    stack(batch(0, num_envs=1))
    assert stack.state()['speed/Count/0'].tolist() == [1]
