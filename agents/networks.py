"""Network builders: a Keras 3 model from state specs and a declaration.

Four forms, as DESIGN.md fixes them::

    network='auto'                                   # an encoder per state, from its spec
    network=[dict(type='dense', size=64), ...]       # layers on the single state
    network=dict(image=[dict(type='conv2d', size=32, window=3), dict(type='flatten')],
                 caption=[dict(type='embedding', size=32), dict(type='lstm', size=64)],
                 combine='concat', layers=[dict(type='dense', size=128)])
    network=lambda inputs: ...                       # fn(dict of Keras tensors) -> tensor

``'auto'`` (also ``dict(type='auto', size=64, depth=2, patch=None, rnn=None, rnn_at='torso')``)
encodes images (rank 3) by convolutions, token sequences (discrete int
vectors) by embedding + LSTM, discrete scalars by embedding, other numbers
and bools as floats, concatenates the encodings and adds a dense torso of
``depth`` layers of ``size`` (tanh). ``patch=p`` makes the image's first
convolution p x p with stride p (a patch embedding: one feature vector per
grid cell when p is a grid world's cell size). With one image beside other
states (an image and a caption), the others' encodings modulate the image's
feature maps instead of being concatenated: FiLM (Perez et al. 2018), a
per-channel scale and shift computed from the caption, so the caption picks
which visual features matter at every position. Text must be tokenized
first (the `tokenize` preprocessor). The result is a `keras.Model` from a
dict of inputs to one embedding.

Memory across steps: an ``lstm`` or ``gru`` layer applied to one vector
per step (``[dict(type='dense', size=32), dict(type='lstm', size=64)]``),
or ``dict(type='auto', rnn=64)`` (an LSTM of 64 after the dense torso, as
TensorForce's AutoNetwork's `rnn`; with ``rnn_at='context'``, on the
encoding of the states beside the image instead, its output the FiLM
context: an instruction seen once is kept and modulates every later frame),
is a recurrent cell whose state is the policy's core state: carried from
one act to the next per environment, restarted where an episode starts
(`Policy`). On a sequence within one step (a caption's tokens after an
embedding) the same types stay ordinary sequence layers. Any layer
following Keras's RNN-cell protocol plugs in the same way: a `state_size`
(a list of sizes), ``call(inputs, states) -> (output, new_states)`` and
optionally ``get_initial_state(batch_size)`` (zeros otherwise)::

    >>> from modalbridge.bridges import plugins
    >>> from modalbridge.bridges.specs import as_specs
    >>> @plugins.register('example.Decay')
    ... class Decay(keras.layers.Layer):
    ...     '''A leaky average of its input, the smallest layer with internal state.'''
    ...     def __init__(self, size, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.state_size = [size]
    ...     def call(self, inputs, states):
    ...         state = 0.9 * states[0] + 0.1 * inputs
    ...         return state, [state]
    ...     def get_initial_state(self, batch_size=None):
    ...         return [keras.ops.ones((batch_size, self.state_size[0]))]
    >>> model = build(as_specs(dict(x=dict(type='float', shape=(3,)))),
    ...               [dict(type='dense', size=4), dict(type='example.Decay', size=4)], memory=True)
    >>> sorted(model.core_initial), model.core_initial['network_core0']
    (['network_core0'], array([1., 1., 1., 1.], dtype=float32))

Arguments a layer dict does not name above go to the Keras layer as they
are (``activation``, ``kernel_initializer`` by Keras name, ...). A dense
layer also takes ``kernel_initializer='orthogonal', gain=2 ** 0.5``:
Stable-Baselines3's MLP initialisation, in plain values that load in safe
mode (`examples/cartpole_ppo.py` declares its torso so).

A declaration kept in a JSON file is read once, by value, with
`declaration(path)`; `build` never reads files, so a checkpoint holding a
declaration means the same thing wherever it is loaded. A dotted layer
``type`` (``'my_project.layers.Gate'``) resolves through
`modalbridge.bridges.plugins`: in safe mode (declarations read from files
someone else wrote) only registered plug-ins resolve, nothing is imported,
and Keras object configs (dict-valued arguments) are refused.

>>> from modalbridge.bridges.specs import as_specs
>>> states = as_specs(dict(speed=dict(type='float', shape=(3,))))
>>> build(states, [dict(type='dense', size=8)]).output.shape
(None, 8)
>>> build(states, [dict(type='payload.Dense', units=8)], safe_mode=True)
Traceback (most recent call last):
...
modalbridge.bridges.errors.ConfigError: network[0] (payload.Dense): 'payload.Dense' is not a registered plug-in, and safe mode refuses to import it; register it in code (modalbridge.bridges.plugins.register) or load with safe_mode=False if you trust where it came from
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import tensorflow as tf

from modalbridge.bridges.arguments import integer, number
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.plugins import resolve
from modalbridge.bridges.specs import Spec, as_specs, describe, is_bool, is_discrete, is_text, num_values

if TYPE_CHECKING:  # the module, so that keras.Model is a type to the checker
    import keras
else:
    keras = tf.keras
if TYPE_CHECKING:
    from keras import layers
else:
    layers = keras.layers

LAYER_TYPES = ('dense', 'conv2d', 'pool2d', 'flatten', 'embedding', 'lstm', 'gru', 'dropout', 'activation')
COMBINE = ('concat', 'multiply', 'sum')
RNN_AT = ('torso', 'context')
TEXT_STATE = ("state {name!r} is text ({spec}); networks take numbers: add "
              "dict(type='tokenize', vocabulary=[...] or corpus=[...]) to its preprocessing")


def _regularizer(config: dict[str, Any]):
    l2 = number('l2_regularization', config.pop('l2_regularization', 0.0), minimum=0)
    return keras.regularizers.L2(l2) if l2 else None


def _kernel_initializer(config: dict[str, Any]) -> Any:
    """`kernel_initializer` (a Keras name, default 'glorot_uniform'); with ``'orthogonal'`` a `gain`
    (Stable-Baselines3 and CleanRL initialise their MLPs with ``orthogonal, gain=sqrt(2)``)."""
    name = config.pop('kernel_initializer', 'glorot_uniform')
    if 'gain' not in config:
        return name
    if name != 'orthogonal':
        raise ConfigError(f"gain: only with kernel_initializer='orthogonal'; received kernel_initializer={name!r}")
    return keras.initializers.Orthogonal(number('gain', config.pop('gain'), minimum=0, inclusive=False))


def _size(config: dict[str, Any], key: str = 'size', default: Any = KeyError) -> int:
    if key not in config and default is KeyError:
        raise KeyError(key)
    return integer(key, config.pop(key, default), minimum=1)


def _window(config: dict[str, Any], key: str, default: Any) -> Any:
    value = config.pop(key, default)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return tuple(integer(f'{key}[{i}]', v, minimum=1) for i, v in enumerate(value))
    return integer(key, value, minimum=1)


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def make_layer(config: Mapping[str, Any], spec: Spec | None = None, safe_mode: bool = False,
               memory: bool = False) -> layers.Layer:
    """One Keras layer from a TensorForce-style dict (see the module docstring); `memory`:
    `lstm` / `gru` on one vector per step become cells carrying state across steps."""
    config = dict(config)
    kind = config.pop('type', None)
    if not isinstance(kind, str):
        raise ConfigError(f'expected dict(type=..., ...); received {dict(config, type=kind)!r}')
    if safe_mode:
        # A dict argument is a Keras object config, which Keras deserializes (and may import) itself.
        bad = [key for key, value in config.items() if not _plain(value)]
        if bad:
            raise ConfigError(f'argument {bad[0]!r}: safe mode accepts only numbers, strings, bools and lists '
                              f'of them as layer arguments; received {config[bad[0]]!r} (build with '
                              'safe_mode=False if you trust where the declaration came from)')
    try:
        if kind == 'dense':
            return layers.Dense(_size(config), activation=config.pop('activation', 'tanh'),
                                use_bias=config.pop('bias', True), kernel_regularizer=_regularizer(config),
                                kernel_initializer=_kernel_initializer(config), **config)
        if kind == 'conv2d':
            return layers.Conv2D(_size(config), _window(config, 'window', 3), strides=_window(config, 'stride', 1),
                                 padding=config.pop('padding', 'valid'), activation=config.pop('activation', 'relu'),
                                 use_bias=config.pop('bias', True), kernel_regularizer=_regularizer(config), **config)
        if kind == 'pool2d':
            pool = {'max': layers.MaxPooling2D, 'average': layers.AveragePooling2D}
            reduction = config.pop('reduction', 'max')
            if reduction not in pool:
                raise ConfigError(f"reduction must be 'max' or 'average'; received {reduction!r}")
            return pool[reduction](_window(config, 'window', 2), strides=_window(config, 'stride', None),
                                   padding=config.pop('padding', 'valid'), **config)
        if kind == 'flatten':
            return layers.Flatten(**config)
        if kind == 'embedding':
            count = config.pop('num_embeddings', None)
            if count is None:
                if spec is None or not is_discrete(spec):
                    raise ConfigError('needs num_embeddings, or to be first on a discrete state')
                count = int(np.max(num_values(spec)))
            count = integer('num_embeddings', count, minimum=1)
            return layers.Embedding(count, _size(config), mask_zero=config.pop('mask_zero', False), **config)
        if kind in ('lstm', 'gru') and memory:  # one step of a cell: its state is the policy's core state
            cls = layers.LSTMCell if kind == 'lstm' else layers.GRUCell
            return cls(_size(config), kernel_regularizer=_regularizer(config), **config)
        if kind in ('lstm', 'gru'):
            cls = layers.LSTM if kind == 'lstm' else layers.GRU
            return cls(_size(config), return_sequences=config.pop('return_sequences', False),
                       kernel_regularizer=_regularizer(config), **config)
        if kind == 'dropout':
            if 'rate' not in config:
                raise KeyError('rate')
            return layers.Dropout(number('rate', config.pop('rate'), minimum=0, maximum=1), **config)
        if kind == 'activation':
            return layers.Activation(config.pop('nonlinearity', 'relu'), **config)
        if '.' in kind:
            target = resolve(kind, safe_mode=safe_mode)
            if not (isinstance(target, type) and issubclass(target, layers.Layer)):
                raise ConfigError(f'{kind!r} is not a Keras layer class')
            return target(**config)
    except ConfigError:
        raise
    except KeyError as error:
        raise ConfigError(f'missing argument {error.args[0]!r}') from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f'bad arguments: {str(error).splitlines()[0] if str(error) else error!r}') from None
    raise ConfigError(f'unknown layer type {kind!r}; known: {list(LAYER_TYPES)} or a dotted path to a Keras layer')


class _Core:
    """The recurrent state a build collects: an input and an output per state tensor of each
    memory cell, and its initial value (one row, broadcast per environment)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.inputs: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.initial: dict[str, np.ndarray] = {}
        self.cell_inputs: list[Any] = []

    def apply(self, cell: layers.Layer, x):
        """``cell(x, states) -> (output, new states)`` with the states as model inputs and outputs."""
        sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
        initial = (cell.get_initial_state(1) if hasattr(cell, 'get_initial_state')
                   else [np.zeros((1, size), np.float32) for size in sizes])
        initial = initial if isinstance(initial, (list, tuple)) else [initial]
        keys = []
        for size, value in zip(sizes, initial):
            key = f'{self.prefix}_core{len(self.inputs)}'
            self.inputs[key] = keras.Input((int(size),), dtype='float32', name=key)
            self.initial[key] = np.asarray(value, np.float32).reshape(int(size))
            keys.append(key)
        self.cell_inputs.append(x)
        output, states = cell(x, [self.inputs[key] for key in keys])
        states = states if isinstance(states, (list, tuple)) else [states]
        if len(states) != len(keys):
            raise ConfigError(f'{cell.name}: returned {len(states)} state tensor(s) for a state_size of {sizes}')
        self.outputs.update(zip(keys, states))
        return output


def is_cell(layer: Any) -> bool:
    """A layer with internal state across steps: Keras's RNN-cell protocol (`state_size`,
    ``call(inputs, states) -> (output, new_states)``, optional `get_initial_state(batch_size)`)."""
    return hasattr(layer, 'state_size') and not isinstance(layer, layers.RNN)


def _apply_layers(x, configs: Any, place: str, spec: Spec | None, safe_mode: bool, core: _Core | None = None):
    if not isinstance(configs, (list, tuple)):
        raise ConfigError(f'{place}: expected a list of layer dicts; received {type(configs).__name__}')
    for index, config in enumerate(configs):
        kind = config.get('type') if isinstance(config, Mapping) else config
        where = f'{place}[{index}] ({kind})'
        if not isinstance(config, Mapping):
            raise ConfigError(f'{where}: expected dict(type=..., ...); received {config!r}')
        try:
            layer = make_layer(config, spec if index == 0 else None, safe_mode, memory=len(x.shape) == 2)
            if is_cell(layer):
                if core is None:
                    raise ConfigError('a recurrent layer on one vector per step carries state across steps: '
                                      'only agents with a core state (PPO, A2C) support it')
                x = core.apply(layer, x)
            else:
                x = layer(x)
        except ConfigError as error:
            raise ConfigError(f'{where}: {error}') from None
        except (ValueError, TypeError) as error:
            raise ConfigError(f'{where}: cannot apply to its input of shape {tuple(x.shape)}: '
                              f'{str(error).splitlines()[0]}') from None
    return x


def _refuse_colliding_names(states: Mapping[str, Spec]) -> None:
    # Keras input names cannot hold '/', which becomes '__': 'a/b' and 'a__b' would be one input.
    seen: dict[str, str] = {}
    for state in states:
        other = seen.setdefault(state.replace('/', '__'), state)
        if other != state:
            raise ConfigError(f"states {other!r} and {state!r}: both become the Keras input name "
                              f"{state.replace('/', '__')!r}; rename one of them")


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


def declaration(network: Any) -> Any:
    """The declaration to build and to store in a checkpoint, by value.

    A JSON file path (any string but ``'auto'``) is read here, once; other
    declarations are deep-copied (a builder function is returned as it is,
    and cannot be saved).
    """
    if isinstance(network, os.PathLike) or (isinstance(network, str) and network != 'auto'):
        from modalbridge.agents.checkpoint import load_json
        return load_json(network, 'network')
    return network if callable(network) else copy.deepcopy(network)


def build(states: Mapping[str, Spec], network: Any = 'auto', name: str = 'network',
          safe_mode: bool = False, memory: bool = False, inputs: Mapping[str, Any] | None = None) -> keras.Model:
    """A Keras model from a dict of input tensors (named like the states) to an embedding.

    `safe_mode` (for declarations read from files someone else wrote): only
    built-in layer types and registered plug-ins, no Keras object configs.
    `memory` allows recurrent cells (`lstm` / `gru` on one vector per step, a
    cell plug-in, ``'auto'``'s `rnn`): their state tensors become extra
    inputs ``'<name>_core<i>'`` and the model returns ``[embedding, {key:
    new state}]``, with the initial values in ``model.core_initial`` (and the
    cells' input tensors in ``model.core_cell_inputs``). `inputs` (Keras
    inputs by state name) builds on existing inputs instead of new ones.
    """
    states = as_specs(states, 'states')
    if not states:
        raise ConfigError('states: the network needs at least one state; received none')
    _refuse_colliding_names(states)
    core = _Core(name) if memory else None
    inputs = dict(inputs) if inputs is not None else {state: _input(state, spec) for state, spec in states.items()}
    if isinstance(network, (str, os.PathLike)) and network != 'auto':
        raise ConfigError(f"network: expected 'auto' or a declaration; received the string {os.fspath(network)!r} "
                          '(to use a JSON file, pass networks.declaration(path): it is read once, by value)')
    if callable(network):
        builder = getattr(network, '__name__', repr(network))
        try:
            output = network(dict(inputs))
        except ConfigError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of a user builder is a config error
            raise ConfigError(f'network: the builder {builder!r} failed: {error!r}') from error
        if not isinstance(output, keras.KerasTensor):
            raise ConfigError(f'network: the builder {builder!r} must return one Keras tensor computed from '
                              f'its inputs; it returned {type(output).__name__}')
    elif network == 'auto' or (isinstance(network, Mapping) and network.get('type') == 'auto'):
        options = dict(network) if isinstance(network, Mapping) else {}
        options.pop('type', None)
        size = integer('network (auto): size', options.pop('size', 64), minimum=1)
        depth = integer('network (auto): depth', options.pop('depth', 2), minimum=0)
        patch = options.pop('patch', None)
        rnn = options.pop('rnn', None)
        rnn_at = options.pop('rnn_at', 'torso')
        if options:
            raise ConfigError(f"network (auto): unknown option(s) {sorted(options)}; "
                              "expected 'size', 'depth', 'patch', 'rnn', 'rnn_at'")
        if rnn_at not in RNN_AT:
            raise ConfigError(f'network (auto): rnn_at: expected one of {list(RNN_AT)}; received {rnn_at!r}')
        if rnn is not None:
            rnn = integer('network (auto): rnn (LSTM size)', rnn, minimum=1)
            if core is None:
                raise ConfigError('network (auto): rnn carries state across steps: only agents with a core '
                                  'state (PPO, A2C) support it')
        if patch is not None:
            patch = integer('network (auto): patch (pixels)', patch, minimum=1)
        images = [state for state, spec in states.items() if is_image(spec)]
        for state in images:
            if patch is not None and patch > min(states[state].shape[:2]):
                raise ConfigError(f'network (auto): patch {patch} is larger than the image {state!r} '
                                  f'of shape {states[state].shape}')
        film_used = len(images) == 1 and len(states) > 1
        if rnn is not None and rnn_at == 'context' and not film_used:
            raise ConfigError("network (auto): rnn_at='context' puts the LSTM on the FiLM context, which needs "
                              f'one image beside other states; the states are {list(states)}')
        if film_used:
            # One image with other states (a caption, say): the others modulate the image's maps.
            others = [auto_encoder(state, spec, inputs[state]) for state, spec in states.items()
                      if state != images[0]]
            maps = image_maps(states[images[0]], inputs[images[0]], patch, activation=None)
            context = _combine(others, 'concat', 'network')
            if rnn is not None and rnn_at == 'context':
                assert core is not None  # made with rnn
                context = core.apply(layers.LSTMCell(rnn), context)
                core.cell_inputs.append(maps)  # read after the cell too: computed per step, outside the unroll
            output = film(maps, context)
        else:
            encoded = [auto_encoder(state, spec, inputs[state], patch) for state, spec in states.items()]
            output = _combine(encoded, 'concat', 'network')
        for _ in range(depth):
            output = layers.Dense(size, activation='tanh')(output)
        if rnn is not None and rnn_at == 'torso':
            assert core is not None  # made with rnn
            output = core.apply(layers.LSTMCell(rnn), output)
    elif isinstance(network, (list, tuple)):
        if len(states) != 1:
            raise ConfigError(f'network: a list of layers applies to a single state, but there are {len(states)}: '
                              f'{list(states)}; use a dict of per-state lists')
        (state, spec), = states.items()
        output = _apply_layers(keras.ops.cast(inputs[state], 'float32') if not is_discrete(spec) else inputs[state],
                        network, 'network', spec, safe_mode, core)
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
                x = _apply_layers(x if is_discrete(spec) else keras.ops.cast(x, 'float32'), options[state],
                           f'network[{state!r}]', spec, safe_mode, core)
            if len(x.shape) > 2:
                x = layers.Flatten()(x)
            elif len(x.shape) == 1:
                x = x[:, None]
            encoded.append(keras.ops.cast(x, 'float32'))
        output = _apply_layers(_combine(encoded, how, 'network'), after, "network['layers']", None, safe_mode, core)
    else:
        raise ConfigError(f"network: expected 'auto', a list or dict of layer dicts or a builder function; "
                          f'received {type(network).__name__}')
    if len(output.shape) != 2:
        output = layers.Flatten()(output)
    if core is not None and core.inputs:
        model = keras.Model({**inputs, **core.inputs}, [output, core.outputs], name=name)
        model.core_initial, model.core_cell_inputs = core.initial, core.cell_inputs
        return model
    return keras.Model(inputs, output, name=name)
