import pytest


@pytest.fixture(scope='module')
def example(load_example):
    return load_example('scale_out')


def test_every_backend_learns_the_same_weights(example):
    pytest.importorskip('ray', reason="the 'ray' extra is not installed (pip install 'modalbridge[ray]')")
    rows = example.main(['--steps', '400', '--envs', '4', '--workers', '2'])
    assert [row['backend'] for row in rows] == ['local', 'processes', 'ray']
    assert all(row['same_weights'] for row in rows)


@pytest.mark.parametrize('flags, message', [
    (['--backends', 'threads'], '--backends: expected some of'),
    (['--workers', '9', '--envs', '4'], '--workers at most --envs'),
])
def test_bad_flags_are_refused(example, flags, message, capsys):
    with pytest.raises(SystemExit):
        example.main(flags)
    assert message in capsys.readouterr().err
