"""Network builders: a Keras 3 model from state specs and a declaration.

Four forms, as DESIGN.md fixes them::

    network='auto'                                   # an encoder per state, from its spec
    network=[dict(type='dense', size=64), ...]       # layers on the single state
    network=dict(image=[dict(type='conv2d', size=32, window=3), dict(type='flatten')],
                 caption=[dict(type='embedding', size=32), dict(type='lstm', size=64)],
                 combine='concat', layers=[dict(type='dense', size=128)])
    network=lambda inputs: ...                       # fn(dict of Keras tensors) -> tensor

``'auto'`` (also ``dict(type='auto', size=64, depth=2, patch=None)``)
encodes images (rank 3) by convolutions, token sequences (discrete int
vectors) by embedding + LSTM, discrete scalars by embedding, other numbers
and bools as floats, concatenates the encodings and adds a dense torso of
``depth`` layers of ``size`` (tanh). ``patch=p`` makes the image's first
convolution p x p with stride p (a patch embedding: one feature vector per
grid cell when p is a grid world's cell size). With one image beside other
states (an image and a caption), the others' encodings modulate the image's
feature maps instead of being concatenated: FiLM (Perez et al. 2018), a
per-channel scale and shift computed from the caption, so the caption picks
which visual features matter at every position. A JSON file path is
accepted for the declarative forms. Text must be tokenized first (the
`tokenize` preprocessor). The result is a `keras.Model` from a dict of inputs to one
embedding.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Mapping

import numpy as np
import tensorflow as tf

from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, as_specs, describe, is_bool, is_discrete, is_text, num_values
from modalbridge.preprocess.custom import resolve

keras = tf.keras
layers = keras.layers

LAYER_TYPES = ('dense', 'conv2d', 'pool2d', 'flatten', 'embedding', 'lstm', 'gru', 'dropout', 'activation')
COMBINE = ('concat', 'multiply', 'sum')
TEXT_STATE = ("state {name!r} is text ({spec}); networks take numbers: add "
              "dict(type='tokenize', vocabulary=[...] or corpus=[...]) to its preprocessing")


def _regularizer(config: dict[str, Any]):
    l2 = config.pop('l2_regularization', 0.0)
    return keras.regularizers.L2(l2) if l2 else None


def make_layer(config: Mapping[str, Any], spec: Spec | None = None) -> layers.Layer:
    """One Keras layer from a TensorForce-style dict (see the module docstring)."""
    config = dict(config)
    kind = config.pop('type', None)
    if not isinstance(kind, str):
        raise ConfigError(f'expected dict(type=..., ...); received {dict(config, type=kind)!r}')
    try:
        if kind == 'dense':
            return layers.Dense(config.pop('size'), activation=config.pop('activation', 'tanh'),
                                use_bias=config.pop('bias', True), kernel_regularizer=_regularizer(config),
                                **config)
        if kind == 'conv2d':
            return layers.Conv2D(config.pop('size'), config.pop('window', 3), strides=config.pop('stride', 1),
                                 padding=config.pop('padding', 'valid'), activation=config.pop('activation', 'relu'),
                                 use_bias=config.pop('bias', True), kernel_regularizer=_regularizer(config), **config)
        if kind == 'pool2d':
            pool = {'max': layers.MaxPooling2D, 'average': layers.AveragePooling2D}
            reduction = config.pop('reduction', 'max')
            if reduction not in pool:
                raise ConfigError(f"reduction must be 'max' or 'average'; received {reduction!r}")
            return pool[reduction](config.pop('window', 2), strides=config.pop('stride', None),
                                   padding=config.pop('padding', 'valid'), **config)
        if kind == 'flatten':
            return layers.Flatten(**config)
        if kind == 'embedding':
            count = config.pop('num_embeddings', None)
            if count is None:
                if spec is None or not is_discrete(spec):
                    raise ConfigError('needs num_embeddings, or to be first on a discrete state')
                count = int(np.max(num_values(spec)))
            return layers.Embedding(count, config.pop('size'), mask_zero=config.pop('mask_zero', False), **config)
        if kind in ('lstm', 'gru'):
            cls = layers.LSTM if kind == 'lstm' else layers.GRU
            return cls(config.pop('size'), return_sequences=config.pop('return_sequences', False),
                       kernel_regularizer=_regularizer(config), **config)
        if kind == 'dropout':
            return layers.Dropout(config.pop('rate'), **config)
        if kind == 'activation':
            return layers.Activation(config.pop('nonlinearity', 'relu'), **config)
        if '.' in kind:
            target = resolve(kind)
            if not (isinstance(target, type) and issubclass(target, layers.Layer)):
                raise ConfigError(f'{kind!r} is not a Keras layer class')
            return target(**config)
    except KeyError as error:
        raise ConfigError(f'missing argument {error.args[0]!r}') from None
    except TypeError as error:
        raise ConfigError(f'bad arguments: {error}') from None
    raise ConfigError(f'unknown layer type {kind!r}; known: {list(LAYER_TYPES)} or a dotted path to a Keras layer')


def _stack(x, configs: Any, place: str, spec: Spec | None):
    if not isinstance(configs, (list, tuple)):
        raise ConfigError(f'{place}: expected a list of layer dicts; received {type(configs).__name__}')
    for index, config in enumerate(configs):
        kind = config.get('type') if isinstance(config, Mapping) else config
        where = f'{place}[{index}] ({kind})'
        if not isinstance(config, Mapping):
            raise ConfigError(f'{where}: expected dict(type=..., ...); received {config!r}')
        try:
            layer = make_layer(config, spec if index == 0 else None)
            x = layer(x)
        except ConfigError as error:
            raise ConfigError(f'{where}: {error}') from None
        except (ValueError, TypeError) as error:
            raise ConfigError(f'{where}: cannot apply to its input of shape {tuple(x.shape)}: '
                              f'{str(error).splitlines()[0]}') from None
    return x


def _input(name: str, spec: Spec):
    if is_text(spec):
        raise ConfigError(TEXT_STATE.format(name=name, spec=describe(spec)))
    return keras.Input(spec.shape, dtype=spec.dtype.name, name=name.replace('/', '__'))


def _as_float(x):
    return layers.Flatten()(keras.ops.cast(x, 'float32')) if len(x.shape) != 2 else keras.ops.cast(x, 'float32')


def is_image(spec: Spec) -> bool:
    return len(spec.shape) == 3 and not is_bool(spec) and not is_text(spec)


def image_maps(spec: Spec, x, patch: int | None = None, activation: str | None = 'relu'):
    """The convolutional feature maps 'auto' computes for an image (its last layer's
    `activation` left to the caller when FiLM follows)."""
    x = keras.ops.cast(x, 'float32')
    height, width = spec.shape[:2]
    if patch:
        x = layers.Conv2D(32, patch, strides=patch, activation='relu')(x)
        return layers.Conv2D(32, 1, activation=activation)(x)
    if min(height, width) >= 64:  # the Nature DQN stack, for Atari-sized frames
        for size, window, stride, last in ((32, 8, 4, False), (64, 4, 2, False), (64, 3, 1, True)):
            x = layers.Conv2D(size, window, strides=stride, activation=activation if last else 'relu')(x)
        return x
    x = layers.Conv2D(16, 3, padding='same', activation='relu')(x)
    if min(height, width) >= 16:
        x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(32, 3, padding='same', activation='relu')(x)
    if min(height, width) >= 8:
        x = layers.MaxPooling2D(2)(x)
    return layers.Conv2D(32, 3, padding='same', activation=activation)(x)


def image_features(maps):
    return layers.Dense(256, activation='relu')(layers.Flatten()(maps))


def film(maps, context):
    """Feature-wise linear modulation: ``relu(maps * (1 + gamma(context)) + beta(context))``,
    then a 1x1 convolution down to 16 channels, flattened."""
    channels = maps.shape[-1]
    gamma = layers.Reshape((1, 1, channels))(layers.Dense(channels)(context))
    beta = layers.Reshape((1, 1, channels))(layers.Dense(channels)(context))
    x = layers.Activation('relu')(maps * (1.0 + gamma) + beta)
    return layers.Flatten()(layers.Conv2D(16, 1, activation='relu')(x))


def auto_encoder(name: str, spec: Spec, x, patch: int | None = None):
    """The encoder 'auto' picks for one state."""
    rank = len(spec.shape)
    if is_image(spec):
        return image_features(image_maps(spec, x, patch))
    if is_discrete(spec) and not is_bool(spec) and isinstance(num_values(spec), int):
        count = num_values(spec)
        if rank == 1 and spec.shape[0] > 1:  # a token sequence (0 pads)
            x = layers.Embedding(count, 32, mask_zero=True)(x)
            return layers.LSTM(64, unroll=spec.shape[0] <= 32)(x)  # short captions: unrolled is faster
        if rank == 0:
            return layers.Flatten()(layers.Embedding(count, 16)(x[:, None]))
    return _as_float(x) if rank else keras.ops.cast(x, 'float32')[:, None]


def _combine(tensors: list, how: str, place: str):
    if len(tensors) == 1:
        return tensors[0]
    if how == 'concat':
        return layers.Concatenate()(tensors)
    shapes = {tuple(t.shape[1:]) for t in tensors}
    if len(shapes) > 1:
        raise ConfigError(f'{place}: {how!r} needs equal shapes; the states give {sorted(shapes)}')
    return layers.Multiply()(tensors) if how == 'multiply' else layers.Add()(tensors)


def load(network: Any) -> Any:
    """A network declaration, reading a JSON file path."""
    if isinstance(network, (str, os.PathLike)) and network != 'auto':
        try:
            with open(os.fspath(network), encoding='utf-8') as file:
                return json.load(file)
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f'network: cannot read the JSON file {os.fspath(network)!r}: {error}') from error
    return network


def build(states: Mapping[str, Spec], network: Any = 'auto', name: str = 'network') -> keras.Model:
    """A Keras model from a dict of input tensors (named like the states) to an embedding."""
    network = load(network)
    states = as_specs(states, 'states')
    inputs = {state: _input(state, spec) for state, spec in states.items()}
    if callable(network):
        try:
            output = network(dict(inputs))
        except ConfigError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of a user builder is a config error
            raise ConfigError(f'network: the builder {getattr(network, "__name__", network)!r} failed: {error!r}') from error
    elif network == 'auto' or (isinstance(network, Mapping) and network.get('type') == 'auto'):
        options = dict(network) if isinstance(network, Mapping) else {}
        options.pop('type', None)
        size, depth, patch = options.pop('size', 64), options.pop('depth', 2), options.pop('patch', None)
        if options:
            raise ConfigError(f"network (auto): unknown option(s) {sorted(options)}; "
                              "expected 'size', 'depth', 'patch'")
        if patch is not None and (not isinstance(patch, int) or isinstance(patch, bool) or patch < 1):
            raise ConfigError(f'network (auto): patch must be a positive int (pixels); received {patch!r}')
        images = [state for state, spec in states.items() if is_image(spec)]
        for state in images:
            if patch is not None and patch > min(states[state].shape[:2]):
                raise ConfigError(f'network (auto): patch {patch} is larger than the image {state!r} '
                                  f'of shape {states[state].shape}')
        if len(images) == 1 and len(states) > 1:
            # One image with other states (a caption, say): the others modulate the image's maps.
            others = [auto_encoder(state, spec, inputs[state]) for state, spec in states.items()
                      if state != images[0]]
            output = film(image_maps(states[images[0]], inputs[images[0]], patch, activation=None),
                          _combine(others, 'concat', 'network'))
        else:
            encoded = [auto_encoder(state, spec, inputs[state], patch) for state, spec in states.items()]
            output = _combine(encoded, 'concat', 'network')
        for _ in range(depth):
            output = layers.Dense(size, activation='tanh')(output)
    elif isinstance(network, (list, tuple)):
        if len(states) != 1:
            raise ConfigError(f'network: a list of layers applies to a single state, but there are {len(states)}: '
                              f'{list(states)}; use a dict of per-state lists')
        (state, spec), = states.items()
        output = _stack(keras.ops.cast(inputs[state], 'float32') if not is_discrete(spec) else inputs[state],
                        network, 'network', spec)
    elif isinstance(network, Mapping):
        options = dict(network)
        how = options.pop('combine', 'concat')
        after = options.pop('layers', [])
        if how not in COMBINE:
            raise ConfigError(f"network['combine']: expected one of {list(COMBINE)}; received {how!r}")
        unknown = [key for key in options if key not in states]
        if unknown:
            raise ConfigError(f'network[{unknown[0]!r}]: no state of that name; states are {list(states)}')
        encoded = []
        for state, spec in states.items():  # states without a list enter as flat floats
            x = inputs[state]
            if state in options:
                x = _stack(x if is_discrete(spec) else keras.ops.cast(x, 'float32'), options[state],
                           f'network[{state!r}]', spec)
            if len(x.shape) > 2:
                x = layers.Flatten()(x)
            elif len(x.shape) == 1:
                x = x[:, None]
            encoded.append(keras.ops.cast(x, 'float32'))
        output = _stack(_combine(encoded, how, 'network'), after, "network['layers']", None)
    else:
        raise ConfigError(f"network: expected 'auto', a list or dict of layer dicts, a JSON path or a builder "
                          f'function; received {type(network).__name__}')
    if len(output.shape) != 2:
        output = layers.Flatten()(output)
    return keras.Model(inputs, output, name=name)
