"""Run a declaration on both backends and hold them to each other."""

import numpy as np

from modalbridge.preprocess import Stack


def run(states, preprocessing, batches, backend, num_envs=None, resets=None):
    """Outputs of a stack for each batch; `resets[i]` (a mask) is applied before batch i."""
    first = next(iter(batches[0].values()))
    stack = Stack(states, preprocessing, num_envs=num_envs or len(first), backend=backend)
    outputs = []
    for index, batch in enumerate(batches):
        if resets and resets.get(index) is not None:
            stack.reset(resets[index])
        outputs.append(stack(batch))
    return stack, outputs


def both(states, preprocessing, batches, atol=1e-6, **kwargs):
    """NumPy-backend outputs, after checking the TF backend gives the same."""
    np_stack, np_out = run(states, preprocessing, batches, 'numpy', **kwargs)
    tf_stack, tf_out = run(states, preprocessing, batches, 'tf', **kwargs)
    assert dict(np_stack.states) == dict(tf_stack.states)
    for a, b in zip(np_out, tf_out):
        for name in a:
            assert a[name].shape == b[name].shape and a[name].dtype == b[name].dtype, name
            if a[name].dtype == object:
                assert (a[name] == b[name]).all()
            else:
                np.testing.assert_allclose(a[name].astype(np.float64), b[name].astype(np.float64), atol=atol)
    return np_stack, np_out


def image(shape=(1, 6, 6, 3), dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == 'f':
        return rng.random(shape).astype(dtype)
    return rng.integers(0, 256, shape).astype(dtype)


def image_spec(shape=(6, 6, 3), dtype='uint8'):
    if np.dtype(dtype).kind == 'f':
        return dict(type='float', shape=shape, min_value=0.0, max_value=1.0, dtype=dtype)
    return dict(type='int', shape=shape, min_value=0, max_value=255, dtype=dtype)
