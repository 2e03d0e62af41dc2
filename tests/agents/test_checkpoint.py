import errno
import json
import os

import pytest
from hypothesis import given, settings, strategies as st

from modalbridge.agents import checkpoint
from modalbridge.bridges import ConfigError

DOCUMENT = dict(agent='A2C', states=dict(x=dict(type='float', shape=[2])), actions=dict(a=dict(type='int')),
                config=dict(n_steps=5), timesteps=10, episodes=2, updates=1)


def weights(content: bytes):
    def write(directory):
        with open(os.path.join(directory, 'weights.bin'), 'wb') as file:
            file.write(content)
        os.mkdir(os.path.join(directory, 'extra'))
        with open(os.path.join(directory, 'extra', 'vocabulary.txt'), 'wb') as file:
            file.write(content)
    return write


def content(path) -> bytes:
    return (path / 'weights.bin').read_bytes()


def debris(folder):
    return sorted(name for name in os.listdir(folder) if '.saving-' in name or '.replaced-' in name)


def test_save_then_read_gives_the_document_back(tmp_path):
    path = checkpoint.save(tmp_path / 'agent', DOCUMENT, weights(b'old'))
    assert path == os.fspath(tmp_path / 'agent')
    assert checkpoint.read(path) == DOCUMENT
    assert content(tmp_path / 'agent') == b'old'
    assert checkpoint.is_checkpoint(path)
    assert debris(tmp_path) == []


def test_save_replaces_a_checkpoint_of_ours(tmp_path):
    checkpoint.save(tmp_path / 'agent', DOCUMENT, weights(b'old'))
    checkpoint.save(tmp_path / 'agent', dict(DOCUMENT, timesteps=20), weights(b'new'))
    assert checkpoint.read(tmp_path / 'agent')['timesteps'] == 20 and content(tmp_path / 'agent') == b'new'
    assert debris(tmp_path) == []


def test_save_refuses_a_directory_with_the_users_files(tmp_path):
    folder = tmp_path / 'my_experiment'
    folder.mkdir()
    (folder / 'notes.txt').write_text('three weeks of notes')
    with pytest.raises(ConfigError, match=r"save: '.*my_experiment' is a directory that is not a modalbridge "
                                          r"checkpoint \(it holds \['notes.txt'\]\)"):
        checkpoint.save(folder, DOCUMENT, weights(b'new'))
    assert os.listdir(folder) == ['notes.txt'] and debris(tmp_path) == []


def test_save_refuses_a_checkpoint_the_user_added_files_to(tmp_path):
    checkpoint.save(tmp_path / 'agent', DOCUMENT, weights(b'old'))
    (tmp_path / 'agent' / 'log.txt').write_text('training log')
    with pytest.raises(ConfigError, match='is a directory that is not a modalbridge checkpoint'):
        checkpoint.save(tmp_path / 'agent', DOCUMENT, weights(b'new'))
    assert (tmp_path / 'agent' / 'log.txt').read_text() == 'training log' and content(tmp_path / 'agent') == b'old'


def test_save_refuses_a_regular_file_and_leaves_it(tmp_path):
    (tmp_path / 'agent').write_text('not mine to delete')
    with pytest.raises(ConfigError, match="is a file, not a modalbridge checkpoint; it is left as it is"):
        checkpoint.save(tmp_path / 'agent', DOCUMENT, weights(b'new'))
    assert (tmp_path / 'agent').read_text() == 'not mine to delete' and debris(tmp_path) == []


def test_save_refuses_a_symbolic_link_even_to_a_checkpoint(tmp_path):
    checkpoint.save(tmp_path / 'agent', DOCUMENT, weights(b'old'))
    os.symlink(tmp_path / 'agent', tmp_path / 'link')
    with pytest.raises(ConfigError, match='is a symbolic link, not a modalbridge checkpoint'):
        checkpoint.save(tmp_path / 'link', DOCUMENT, weights(b'new'))
    assert content(tmp_path / 'agent') == b'old' and os.path.islink(tmp_path / 'link')


def test_a_weight_file_linked_outside_the_checkpoint_is_refused(tmp_path):
    (tmp_path / 'secret').write_bytes(b'secret')

    def linked(directory):
        os.symlink(tmp_path / 'secret', os.path.join(directory, 'weights.bin'))
    checkpoint.save(tmp_path / 'agent', DOCUMENT, linked)
    with pytest.raises(ConfigError, match="the file 'weights.bin' listed in agent.json is missing"):
        checkpoint.read(tmp_path / 'agent')


def test_save_accepts_an_empty_directory(tmp_path):
    (tmp_path / 'agent').mkdir()
    checkpoint.save(tmp_path / 'agent', DOCUMENT, weights(b'new'))
    assert content(tmp_path / 'agent') == b'new'


def test_a_document_that_is_not_json_is_refused_before_writing(tmp_path):
    with pytest.raises(ConfigError, match='save: the agent configuration is not JSON-serialisable'):
        checkpoint.save(tmp_path / 'agent', dict(DOCUMENT, config=dict(network=len)), weights(b'x'))
    with pytest.raises(ConfigError, match='not JSON-serialisable'):
        checkpoint.save(tmp_path / 'agent', dict(DOCUMENT, config=dict(rate=float('nan'))), weights(b'x'))
    with pytest.raises(ConfigError, match=r"save: the document keys \['format'\] are reserved"):
        checkpoint.save(tmp_path / 'agent', dict(DOCUMENT, format='x'), weights(b'x'))
    assert os.listdir(tmp_path) == []


def test_a_failing_weight_writer_leaves_the_old_checkpoint_and_no_debris(tmp_path):
    checkpoint.save(tmp_path / 'agent', DOCUMENT, weights(b'old'))

    def broken(directory):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(tmp_path / 'agent', DOCUMENT, broken)
    assert content(tmp_path / 'agent') == b'old' and debris(tmp_path) == []


class FaultyRename:
    """os.rename that raises `error` on its `fail_at`-th call (and on every later one if `persistent`)."""

    def __init__(self, fail_at, error, persistent=False):
        self.calls, self.fail_at, self.error, self.persistent = 0, fail_at, error, persistent
        self.rename = os.rename

    def __call__(self, source, target):
        self.calls += 1
        if self.calls == self.fail_at or (self.persistent and self.calls > self.fail_at):
            raise self.error
        return self.rename(source, target)


@pytest.mark.parametrize('error', [KeyboardInterrupt(), OSError(errno.EIO, 'Input/output error')],
                         ids=['interrupt', 'eio'])
@pytest.mark.parametrize('fail_at', [1, 2, 3])
def test_an_interrupted_replacement_leaves_a_complete_checkpoint_and_no_debris(tmp_path, monkeypatch, fail_at,
                                                                              error):
    path = tmp_path / 'agent'
    checkpoint.save(path, DOCUMENT, weights(b'old'))
    faulty = FaultyRename(fail_at, error)
    monkeypatch.setattr(os, 'rename', faulty)
    try:
        checkpoint.save(path, dict(DOCUMENT, timesteps=99), weights(b'new'))
    except (KeyboardInterrupt, OSError) as raised:
        assert raised is error
    monkeypatch.setattr(os, 'rename', faulty.rename)
    assert checkpoint.is_checkpoint(path)
    document = checkpoint.read(path)
    assert (document['timesteps'], content(path)) in ((10, b'old'), (99, b'new'))
    assert debris(tmp_path) == []


@pytest.mark.parametrize('error', [KeyboardInterrupt(), OSError(errno.EIO, 'Input/output error')],
                         ids=['interrupt', 'eio'])
def test_a_replacement_whose_restore_also_fails_is_recovered_by_the_next_read_or_save(tmp_path, monkeypatch,
                                                                                     error):
    path = tmp_path / 'agent'
    checkpoint.save(path, DOCUMENT, weights(b'old'))
    faulty = FaultyRename(2, error, persistent=True)  # the swap-in and the restore both fail
    monkeypatch.setattr(os, 'rename', faulty)
    with pytest.raises(type(error)):
        checkpoint.save(path, dict(DOCUMENT, timesteps=99), weights(b'new'))
    monkeypatch.setattr(os, 'rename', faulty.rename)
    assert not path.exists() and len(debris(tmp_path)) == 1  # the old one, renamed aside
    assert checkpoint.read(path) == DOCUMENT and content(path) == b'old'
    assert debris(tmp_path) == []


def test_save_recovers_a_checkpoint_left_aside(tmp_path):
    path = tmp_path / 'agent'
    checkpoint.save(path, DOCUMENT, weights(b'old'))
    os.rename(path, tmp_path / '.agent.replaced-0123')
    (tmp_path / '.agent.saving-4567').mkdir()
    checkpoint.save(path, dict(DOCUMENT, timesteps=99), weights(b'new'))
    assert checkpoint.read(path)['timesteps'] == 99 and debris(tmp_path) == []


def write_document(tmp_path, text: str | bytes, files=()):
    path = tmp_path / 'agent'
    path.mkdir(exist_ok=True)
    (path / 'agent.json').write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def document_text(**changes):
    document = dict(format=checkpoint.FORMAT, files=[], **DOCUMENT)
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not ...})


@pytest.mark.parametrize('text, message', [
    ('[' * 100_000 + ']' * 100_000, 'is nested too deep to be a configuration'),
    (b'{"agent": "\xff"}', r'is not UTF-8 text \(invalid start byte at byte 11\)'),
    ('{"agent": ', 'is not valid JSON'),
    ('[1, 2]', 'must hold a JSON object; it holds a list'),
    ('{"format": "x"}', "'format' must be 'modalbridge-checkpoint/1'"),
    (document_text(timesteps='abc'), "'timesteps' must be an int >= 0; received 'abc'"),
    (document_text(timesteps=True), "'timesteps' must be an int >= 0; received True"),
    (document_text(episodes=-1), "'episodes' must be an int >= 0; received -1"),
    (document_text(agent=3), "'agent' must be a string"),
    (document_text(states=[1]), "'states' must be a dict of spec dicts"),
    (document_text(config='x'), "'config' must be a dict"),
    (document_text(agent=...), "the key 'agent' is missing"),
    (document_text(files='weights'), "'files' must be a list of file names"),
    (document_text(files=['weights.h5']), "is incomplete: the file 'weights.h5' listed in agent.json is missing"),
    (document_text(files=['../../etc/passwd']), "the file '../../etc/passwd' listed in agent.json is missing"),
    (document_text(config=dict(rate='NaN')).replace('"NaN"', 'NaN'), 'NaN is not a number'),
    (document_text(timesteps=1).replace('"timesteps": 1', '"timesteps": 1e999'), '1e999 overflows a float'),
])
def test_a_bad_document_is_a_config_error_naming_the_file_and_key(tmp_path, text, message):
    path = write_document(tmp_path, text)
    with pytest.raises(ConfigError, match=r"load: '.*agent\.json'.*" + message + '|load: .*' + message):
        checkpoint.read(path)


def test_reading_what_is_not_a_checkpoint(tmp_path):
    with pytest.raises(ConfigError, match="load: '.*missing' is not an agent checkpoint"):
        checkpoint.read(tmp_path / 'missing')
    with pytest.raises(ConfigError, match='path must be a non-empty str'):
        checkpoint.read('')


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                max_size=3), max_leaves=10))
def test_any_json_value_in_agent_json_reads_or_is_a_config_error(tmp_path_factory, value):
    path = tmp_path_factory.mktemp('ckpt') / 'agent'
    path.mkdir()
    try:
        text = json.dumps(value)
    except ValueError:
        return
    (path / 'agent.json').write_text(text)
    try:
        checkpoint.read(path)
    except ConfigError:
        pass


def test_keras_weights_round_trip_through_a_checkpoint(tmp_path):
    import numpy as np
    import tensorflow as tf
    keras = tf.keras

    def model(seed):
        inputs = keras.Input((3,))
        dense = keras.layers.Dense(2, kernel_initializer=keras.initializers.GlorotUniform(seed))
        return keras.Model(inputs, dense(inputs))
    saved = model(0)
    path = checkpoint.save(tmp_path / 'agent', DOCUMENT,
                           lambda directory: saved.save_weights(os.path.join(directory, 'weights.weights.h5')))
    assert checkpoint.read(path) == DOCUMENT
    loaded = model(1)
    assert not np.array_equal(saved(np.ones((1, 3), np.float32)), loaded(np.ones((1, 3), np.float32)))
    loaded.load_weights(os.path.join(path, 'weights.weights.h5'))
    x = np.ones((4, 3), np.float32)
    np.testing.assert_array_equal(saved(x), loaded(x))
