"""`Stack`: a declared, batched, stateful chain of preprocessors per state."""

from __future__ import annotations

import difflib
import inspect
import json
import os
import types
from typing import Any, Mapping, Sequence, Union

import numpy as np

from modalbridge.bridges.errors import ConfigError, SpecError
from modalbridge.bridges.specs import Spec, SpecLike, as_specs, describe, is_text
from modalbridge.preprocess import custom
from modalbridge.preprocess.base import REGISTRY, Preprocessor

Declaration = Union[Sequence[Any], Mapping[str, Sequence[Any]], str, os.PathLike]
BACKENDS = ('tf', 'numpy')

UNKNOWN_TYPE = 'unknown type {type!r}{hint}; known types: {known}'
LIST_FOR_MANY = ('a list applies to a single state, but there are {count}: {names}; '
                 'use a dict keyed by state name')
UNKNOWN_STATE = 'no state named {name!r}{hint}; the states are {names}'


def _hint(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ''


def load(preprocessing: Declaration, states: Mapping[str, Spec]
         ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """The declaration in its normal form, {state: [dict(type=..., **kwargs), ...]},
    and the place of each state's list for error messages.

    Accepts a list (for the single state), a dict of lists, or the path of a
    JSON file holding either; entries are dicts with a ``type`` (arguments
    beside it or under ``kwargs``) or bare type names.
    """
    if isinstance(preprocessing, (str, os.PathLike)):
        path = os.fspath(preprocessing)
        try:
            with open(path, encoding='utf-8') as file:
                preprocessing = json.load(file)
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f'preprocessing: cannot read the JSON file {path!r}: {error}') from error
    if isinstance(preprocessing, Mapping):
        declared = dict(preprocessing)
        for name in declared:
            if name not in states:
                raise ConfigError(f'preprocessing[{name!r}]: ' + UNKNOWN_STATE.format(
                    name=name, hint=_hint(str(name), list(states)), names=list(states)))
        places = {name: f'preprocessing[{name!r}]' for name in declared}
    elif isinstance(preprocessing, (list, tuple)):
        if len(states) != 1:
            raise ConfigError('preprocessing: ' + LIST_FOR_MANY.format(count=len(states), names=list(states)))
        name = next(iter(states))
        declared, places = {name: preprocessing}, {name: 'preprocessing'}
    else:
        raise ConfigError(f'preprocessing: expected a list, a dict of lists or a JSON file path; '
                          f'received {type(preprocessing).__name__}')
    normal = {}
    for name, entries in declared.items():
        if isinstance(entries, (str, Mapping)):
            entries = [entries]
        if not isinstance(entries, (list, tuple)):
            raise ConfigError(f'{places[name]}: expected a list of preprocessors; received {type(entries).__name__}')
        normal[name] = [_entry(entry, f'{places[name]}[{index}]') for index, entry in enumerate(entries)]
    return normal, places


def _entry(entry: Any, place: str) -> dict[str, Any]:
    if isinstance(entry, str):
        return dict(type=entry)
    if not isinstance(entry, Mapping) or 'type' not in entry:
        raise ConfigError(f'{place}: expected dict(type=..., ...) or a type name; received {entry!r}')
    entry = dict(entry)
    kwargs = entry.pop('kwargs', {})
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f'{place}: kwargs must be a dict; received {kwargs!r}')
    both = sorted(set(kwargs) & set(entry))
    if both:
        raise ConfigError(f'{place}: {both} given both beside type and in kwargs')
    return {**entry, **kwargs}


def build(entry: dict[str, Any], spec: Spec, place: str, backend: str) -> Preprocessor:
    """One preprocessor from a normal-form entry; errors name `place`."""
    kwargs = {key: value for key, value in entry.items() if key != 'type'}
    kind = entry['type']
    where = f'{place} ({kind})'
    try:
        if not isinstance(kind, str):
            raise ConfigError(f'type must be a string; received {kind!r}')
        if kind in REGISTRY:
            cls = REGISTRY[kind]
            parameters = inspect.signature(cls.__init__).parameters
            try:
                inspect.signature(cls.__init__).bind(None, spec, **kwargs)
            except TypeError:
                accepted = [p for p in list(parameters)[2:]]
                required = [p for p in accepted if parameters[p].default is inspect.Parameter.empty]
                unknown = sorted(set(kwargs) - set(accepted))
                missing = sorted(set(required) - set(kwargs))
                problem = f'unknown argument(s) {unknown}' if unknown else f'missing argument(s) {missing}'
                raise ConfigError(f'{problem}; {kind} takes {accepted}') from None
            return cls(spec, **kwargs)
        if '.' in kind:
            return custom.build(kind, spec, kwargs, backend)
        raise ConfigError(UNKNOWN_TYPE.format(type=kind, hint=_hint(kind, list(REGISTRY)),
                                              known=sorted(REGISTRY)))
    except ConfigError as error:
        raise ConfigError(f'{where}: {error}') from error.__cause__


class Stack:
    """Preprocessing declared per state, run on batches of `num_envs` environments.

    >>> stack = Stack(env.states, dict(
    ...     image=[dict(type='grayscale'), dict(type='image_resize', height=84, width=84),
    ...            dict(type='normalize'), dict(type='sequence', length=4)],
    ...     caption=[dict(type='tokenize', length=8, vocabulary=['red', 'ball'])]),
    ...     num_envs=8)
    >>> stack.states['image'].shape
    (84, 84, 4)
    >>> out = stack(batched_states)        # dict of arrays with a leading axis of 8
    >>> stack.reset(finished)              # bool mask: these environments start an episode

    States not named pass through. ``backend='tf'`` runs the whole stack as
    one `tf.function` (``jit_compile=True`` for XLA, numeric states only);
    ``backend='numpy'`` uses NumPy and OpenCV and never imports TensorFlow.
    A single unbatched state dict is accepted when ``num_envs == 1``.
    Every environment starts as if reset.
    """

    def __init__(self, states: Mapping[str, SpecLike], preprocessing: Declaration, num_envs: int = 1,
                 backend: str = 'tf', jit_compile: bool = False):
        if backend not in BACKENDS:
            raise ConfigError(f'backend must be one of {list(BACKENDS)}; received {backend!r}')
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ConfigError(f'num_envs must be a positive int; received {num_envs!r}')
        self.input_states = as_specs(states, 'states')
        self.preprocessing, places = load(preprocessing, self.input_states)
        self.num_envs, self.backend, self.jit_compile = int(num_envs), backend, bool(jit_compile)
        self._chains: dict[str, list[Preprocessor]] = {}
        outputs = dict(self.input_states)
        for name, entries in self.preprocessing.items():
            chain, spec = [], self.input_states[name]
            for index, entry in enumerate(entries):
                preprocessor = build(entry, spec, f'{places[name]}[{index}]', backend)
                chain.append(preprocessor)
                spec = preprocessor.spec.replace(name=name) if preprocessor.spec.name != name else preprocessor.spec
            self._chains[name] = chain
            outputs[name] = spec
        self.states = as_specs(outputs, 'states')
        self._first = np.ones(self.num_envs, bool)
        self._memory = {(name, index): p.initial_state(self.num_envs)
                        for name, chain in self._chains.items() for index, p in enumerate(chain)
                        if p.stateful}
        if backend == 'tf':
            self._build_tf()

    # -- public API ----------------------------------------------------------

    def __call__(self, states: Mapping[str, Any], update: bool = True) -> dict[str, np.ndarray]:
        """Preprocesses one batch of states; returns the output states (NumPy).

        With ``update=False`` the stack's memory is left as it was: the
        outputs are what these states would give, without recording them
        (for the final states of finished episodes, say).
        """
        inputs, unbatched = self._inputs(states)
        if self.backend == 'numpy':
            outputs = self._numpy(inputs, update)
        else:
            import tensorflow as tf
            tensors = {name: tf.constant(value) for name, value in inputs.items()}
            outputs = {name: value.numpy() for name, value in self._calls[update](tensors).items()}
        result = {name: states[name] for name in self.states if name not in outputs}
        for name, value in outputs.items():
            result[name] = value[0] if unbatched else value
        return {name: result[name] for name in self.states}

    def reset(self, mask: Any = None) -> None:
        """Marks environments (all, or where the bool mask is true) as starting an episode."""
        if mask is None:
            mask = np.ones(self.num_envs, bool)
        mask = np.asarray(mask)
        if mask.shape != (self.num_envs,) or mask.dtype != bool:
            raise SpecError('mask', f'bool array of shape ({self.num_envs},)',
                            f'{mask.dtype.name} array of shape {mask.shape}')
        if self.backend == 'numpy':
            self._first |= mask
        else:
            self._first_variable.assign(self._first_variable.read_value() | mask)

    def freeze(self, frozen: bool = True) -> None:
        """Stops (or resumes) updating running statistics (`running_standardize`)."""
        for key, preprocessor in self._stateful():
            if preprocessor.type == 'running_standardize':
                if self.backend == 'numpy':
                    self._memory[key] = self._memory[key][:3] + (np.array(not frozen),)
                else:
                    self._variables[key][3].assign(not frozen)

    def apply_tf(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The TF computation on batched tensors, in the caller's graph (TF backend)."""
        if self.backend != 'tf':
            raise ConfigError("apply_tf needs backend='tf'")
        return self._tf_body(dict(inputs))

    @property
    def tracing_count(self) -> int:
        """How often the TF function was traced (1 after any number of calls)."""
        return self._function.experimental_get_tracing_count() if self.backend == 'tf' else 0

    def to_config(self) -> dict[str, Any]:
        """A JSON-able description: Stack(states, **config) builds the same stack."""
        return dict(preprocessing=self.preprocessing, num_envs=self.num_envs, backend=self.backend,
                    jit_compile=self.jit_compile)

    def __repr__(self) -> str:
        chains = {name: [p.type or type(p).__name__ for p in chain] for name, chain in self._chains.items()}
        return f'Stack({chains}, num_envs={self.num_envs}, backend={self.backend!r})'

    # -- internals -----------------------------------------------------------

    def _stateful(self):
        for name, chain in self._chains.items():
            for index, preprocessor in enumerate(chain):
                if preprocessor.stateful:
                    yield (name, index), preprocessor

    def _inputs(self, states: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], bool]:
        if not isinstance(states, Mapping):
            raise SpecError('states', f'a dict with the keys {list(self.input_states)}', type(states).__name__)
        missing = [name for name in self.input_states if name not in states]
        if missing:
            raise SpecError(missing[0], f'the state keys {list(self.input_states)}', f'missing {missing}')
        inputs, ranks = {}, set()
        for name in self._chains:
            spec, value = self.input_states[name], states[name]
            text = is_text(spec)
            dtype = np.dtype(object) if text else spec.dtype
            if not isinstance(value, np.ndarray):
                value = np.asarray(value, dtype=dtype)
            elif value.dtype != dtype and not (text and value.dtype.kind in 'OUS'):
                raise SpecError(name, f'{describe(spec)}, batched', f'dtype {value.dtype.name}')
            if value.shape == (self.num_envs,) + spec.shape:
                ranks.add('batched')
            elif self.num_envs == 1 and value.shape == spec.shape:
                ranks.add('single')
                value = value[None]
            else:
                raise SpecError(name, f'shape {(self.num_envs,) + spec.shape} (num_envs={self.num_envs}) '
                                + ('or ' + str(spec.shape) if self.num_envs == 1 else ''),
                                f'shape {value.shape}')
            inputs[name] = value
        if len(ranks) > 1:
            raise SpecError('states', 'all states batched or all unbatched', 'a mix of both')
        return inputs, ranks == {'single'}

    def _numpy(self, inputs: dict[str, np.ndarray], update: bool = True) -> dict[str, np.ndarray]:
        first, outputs = self._first, {}
        for name, chain in self._chains.items():
            x = inputs[name]
            for index, preprocessor in enumerate(chain):
                if preprocessor.stateful:
                    key = (name, index)
                    x, memory = preprocessor.numpy_step(x, self._memory[key], first)
                    if update:
                        self._memory[key] = memory
                else:
                    x = preprocessor.numpy(x)
            outputs[name] = x
        if update:
            self._first = np.zeros(self.num_envs, bool)
        return outputs

    def _build_tf(self) -> None:
        import tensorflow as tf
        if self.jit_compile:
            text = [name for name in self._chains if is_text(self.input_states[name])]
            if text:
                raise ConfigError(f'jit_compile: the text state(s) {text} use string ops, which XLA '
                                  'cannot compile; use jit_compile=False')
        for chain in self._chains.values():
            for preprocessor in chain:
                preprocessor.prepare_tf()
        self._first_variable = tf.Variable(self._first, trainable=False, name='first')
        self._variables = {key: tuple(tf.Variable(value, trainable=False) for value in self._memory[key])
                           for key, _ in self._stateful()}
        signature = {name: tf.TensorSpec((self.num_envs,) + self.input_states[name].shape,
                                          tf.string if is_text(self.input_states[name])
                                          else self.input_states[name].dtype, name=name)
                     for name in self._chains}
        self._function = tf.function(lambda inputs: self._tf_body(inputs), input_signature=[signature],
                                     jit_compile=self.jit_compile or None, reduce_retracing=False)
        self._peek_function = tf.function(lambda inputs: self._tf_body(inputs, update=False),
                                          input_signature=[signature], jit_compile=self.jit_compile or None)
        # Calling the concrete functions skips tf.function's dispatch (a large part of a call here).
        self._calls = {True: self._function.get_concrete_function(),
                       False: self._peek_function.get_concrete_function()}

    def _tf_body(self, inputs: dict[str, Any], update: bool = True) -> dict[str, Any]:
        first, outputs = self._first_variable.read_value(), {}
        for name, chain in self._chains.items():
            x = inputs[name]
            for index, preprocessor in enumerate(chain):
                if preprocessor.stateful:
                    variables = self._variables[(name, index)]
                    x, new = preprocessor.tf_step(x, tuple(v.read_value() for v in variables), first)
                    for variable, value in zip(variables, new):
                        if update:
                            variable.assign(value)
                else:
                    x = preprocessor.tf(x)
            outputs[name] = x
        if update:
            self._first_variable.assign(np.zeros(self.num_envs, bool))
        return outputs
