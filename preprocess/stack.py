"""`Stack`: a declared, batched, stateful chain of preprocessors per state."""

from __future__ import annotations

import difflib
import inspect
import json
import os
import reprlib
from typing import Any, Mapping, Sequence, Union

import numpy as np

from modalbridge.bridges.arguments import boolean, choice, integer
from modalbridge.bridges.errors import ConfigError, SpecError
from modalbridge.bridges.batch import column_bounds
from modalbridge.bridges.specs import Spec, SpecLike, as_specs, is_text
from modalbridge.bridges.states import StateBatcher
from modalbridge.preprocess import custom
from modalbridge.preprocess.backends import BACKENDS, stateful
from modalbridge.preprocess.base import _REGISTRY as REGISTRY, Preprocessor

Declaration = Union[Sequence[Any], Mapping[str, Sequence[Any]], str, os.PathLike]

UNKNOWN_TYPE = 'unknown type {type!r}{hint}; known types: {known}'
LIST_FOR_MANY = ('a list applies to a single state, but there are {count}: {names}; '
                 'use a dict keyed by state name')
UNKNOWN_STATE = 'no state named {name!r}{hint}; the states are {names}'
FIRST = 'stack/first'  # the name of the episode-start mask in `Stack.state()`
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60


def _hint(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ''


def normalize_declaration(preprocessing: Declaration, states: Mapping[str, Spec]
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
        except (OSError, ValueError) as error:  # ValueError: not JSON, not UTF-8, a number too long
            raise ConfigError(f'preprocessing: cannot read the JSON file {path!r}: {error}') from error
        except RecursionError:
            raise ConfigError(f'preprocessing: cannot read the JSON file {path!r}: nested too deeply') from None
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
        raise ConfigError(f'{place}: expected dict(type=..., ...) or a type name; received {_short.repr(entry)}')
    entry = dict(entry)
    kwargs = entry.pop('kwargs', {})
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f'{place}: kwargs must be a dict; received {_short.repr(kwargs)}')
    for key in list(entry) + list(kwargs):
        if not isinstance(key, str) or not key.isidentifier():
            raise ConfigError(f'{place}: argument names are identifiers; received {_short.repr(key)}')
    both = sorted(set(kwargs) & set(entry))
    if both:
        raise ConfigError(f'{place}: {both} given both beside type and in kwargs')
    return {**entry, **kwargs}


def build(entry: dict[str, Any], spec: Spec, place: str, backend: str, safe_mode: bool = False) -> Preprocessor:
    """One preprocessor from a normal-form entry; errors name `place`.

    A dotted type resolves through `modalbridge.bridges.plugins.resolve`:
    in safe mode only registered plug-ins, and nothing is imported.
    """
    kwargs = {key: value for key, value in entry.items() if key != 'type'}
    kind = entry['type']
    where = f'{place} ({_short.repr(kind)[1:-1] if isinstance(kind, str) else _short.repr(kind)})'
    try:
        if not isinstance(kind, str):
            raise ConfigError(f'type must be a string; received {_short.repr(kind)}')
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
            preprocessor = cls(spec, **kwargs)
        elif '.' in kind:
            preprocessor = custom.build(kind, spec, kwargs, backend, safe_mode)
        else:
            raise ConfigError(UNKNOWN_TYPE.format(type=kind[:60], hint=_hint(kind, list(REGISTRY)),
                                                  known=sorted(REGISTRY)))
    except ConfigError as error:
        raise ConfigError(f'{where}: {error}') from error.__cause__
    except RecursionError:
        raise ConfigError(f'{where}: an argument is nested too deeply') from None
    preprocessor.entry = dict(entry)
    return preprocessor


def _jsonable(value: Any, place: str) -> Any:
    """`value` as plain JSON types (tuples as lists, NumPy scalars as numbers), or a ConfigError."""
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(item, place) for item in value]
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return {key: _jsonable(item, place) for key, item in value.items()}
    raise ConfigError(f'{place}: {_short.repr(value)} cannot be written as JSON')


class Stack:
    """Preprocessing declared per state, run on batches of `num_envs` environments.

    >>> import numpy as np
    >>> states = dict(image=dict(type='int', shape=(8, 8, 3), min_value=0, max_value=255, dtype='uint8'),
    ...               caption=dict(type='text'))
    >>> stack = Stack(states, dict(
    ...     image=[dict(type='grayscale'), dict(type='image_resize', height=4, width=4),
    ...            dict(type='normalize'), dict(type='sequence', length=4)],
    ...     caption=[dict(type='tokenize', length=3, vocabulary=['red', 'ball'])]),
    ...     num_envs=2, backend='numpy')
    >>> stack.states['image'].shape
    (4, 4, 4)
    >>> out = stack(dict(image=np.zeros((2, 8, 8, 3), np.uint8), caption=['red ball', 'a red cube']))
    >>> out['caption'].tolist()
    [[2, 3, 0], [1, 2, 1]]
    >>> stack.reset(np.array([True, False]))  # environment 0 starts an episode

    States not named pass through. ``backend='tf'`` runs the whole stack as
    one `tf.function` (``jit_compile=True`` for XLA, numeric states only);
    ``backend='numpy'`` uses NumPy and OpenCV and never imports TensorFlow.
    A single unbatched state dict is accepted when ``num_envs == 1``.
    Every environment starts as if reset.

    A declaration read from a JSON file (`preprocessing` a path) is built
    in safe mode: a dotted ``type`` resolves only to plug-ins registered
    in code (`modalbridge.bridges.plugins.register`), nothing is imported;
    pass ``safe_mode=False`` if you trust the file. A declaration written
    in code resolves any dotted path unless ``safe_mode=True``.

    As part of a checkpoint: `config()` is the declaration by value (JSON),
    `state()` the named arrays of its memory (running statistics, frame
    buffers, the episode-start mask) and `load_state` puts them back;
    ``Stack(states, stack.config(), ...)`` followed by
    ``load_state(stack.state())`` continues exactly where `stack` was. A
    stack also pickles (declaration, options and state).
    """

    def __init__(self, states: Mapping[str, SpecLike], preprocessing: Declaration, num_envs: int = 1,
                 backend: str = 'tf', jit_compile: bool = False, safe_mode: bool | None = None):
        backend = choice('backend', backend, list(BACKENDS))
        num_envs = integer('num_envs', num_envs, minimum=1)
        jit_compile = boolean('jit_compile', jit_compile)
        from_file = isinstance(preprocessing, (str, os.PathLike))
        safe_mode = from_file if safe_mode is None else boolean('safe_mode', safe_mode)
        self.input_states = as_specs(states, 'states')
        declaration, places = normalize_declaration(preprocessing, self.input_states)
        self.num_envs, self.backend, self.jit_compile = num_envs, backend, jit_compile
        self._chains: dict[str, list[Preprocessor]] = {}
        outputs = dict(self.input_states)
        for name, entries in declaration.items():
            chain, spec = [], self.input_states[name]
            for index, entry in enumerate(entries):
                preprocessor = build(entry, spec, f'{places[name]}[{index}]', backend, safe_mode)
                chain.append(preprocessor)
                spec = preprocessor.spec.replace(name=name) if preprocessor.spec.name != name else preprocessor.spec
            self._chains[name] = chain
            outputs[name] = spec
        self.states = as_specs(outputs, 'states')
        self._batcher = StateBatcher(self.input_states)
        self._quick = _quick_checks(self.input_states, num_envs)
        self._one_chain = next(iter(self._chains)) if len(self.input_states) == len(self._chains) == 1 else None
        self._frozen = False
        self._backend = BACKENDS[backend](self._chains, self.num_envs, input_states=self.input_states,
                                          jit_compile=jit_compile)
        self._names = self._state_names()
        # A plug-in that does not name its state arrays gets them numbered.
        self._fields = {key: p.state_names or tuple(map(str, range(len(self._backend.read(key)))))
                        for key, p in self._stateful()}

    # -- public API ----------------------------------------------------------

    @property
    def preprocessing(self) -> dict[str, list[dict[str, Any]]]:
        """The declaration as given, in normal form ({state: [entry, ...]})."""
        return {name: [dict(p.entry) for p in chain] for name, chain in self._chains.items()}

    def __call__(self, states: Mapping[str, Any], update: bool = True) -> dict[str, np.ndarray]:
        """Preprocesses one batch of states; returns the output states (NumPy).

        With ``update=False`` the stack's memory is left as it was: the
        outputs are what these states would give, without recording them
        (for the final states of finished episodes, say).
        """
        if update is not True:  # the common case skips the check: this call is on every step's path
            update = boolean('update', update)
        quick = self._quick_inputs(states)
        inputs, unbatched = quick if quick is not None else self._inputs(states)
        if self._one_chain is not None:  # one state, preprocessed: no dicts rebuilt (every step's path)
            name = self._one_chain
            output = self._backend.run(inputs, update)[name]
            return {name: output[0] if unbatched else output}
        outputs = self._backend.run({name: inputs[name] for name in self._chains}, update)
        return {name: (outputs[name] if name in outputs else inputs[name])[0] if unbatched else
                (outputs[name] if name in outputs else inputs[name]) for name in self.states}

    def reset(self, mask: Any = None) -> None:
        """Marks environments (all, or where the bool mask is true) as starting an episode."""
        if mask is None:
            mask = np.ones(self.num_envs, bool)
        mask = np.asarray(mask)
        if mask.shape != (self.num_envs,) or mask.dtype != bool:
            raise SpecError('mask', f'bool array of shape ({self.num_envs},)',
                            f'{mask.dtype.name} array of shape {mask.shape}')
        self._backend.reset(mask)

    @property
    def frozen(self) -> bool:
        """Whether running statistics are frozen (see `freeze`)."""
        return self._frozen

    def freeze(self, frozen: bool = True) -> None:
        """Stops (or, with False, resumes) updating running statistics (`running_standardize`)."""
        frozen = boolean('frozen', frozen)
        for key, preprocessor in self._stateful():
            self._backend.write(key, preprocessor.freeze(self._backend.read(key), frozen))
        self._frozen = frozen

    def config(self) -> dict[str, list[dict[str, Any]]]:
        """The declaration by value, JSON-able: ``Stack(states, stack.config())`` builds the same
        stack (a vocabulary built from a corpus is written out; no file paths)."""
        return {name: [_jsonable(p.config(), f'{name}[{index}] ({p.entry["type"]})')
                       for index, p in enumerate(chain)] for name, chain in self._chains.items()}

    def state(self) -> dict[str, np.ndarray]:
        """The stack's memory as named arrays (copies): ``'<state>/<type>/<field>'``
        (``'image/running_standardize/mean'``, ``'image/sequence/buffer'``; a type
        repeated in one chain gets ``_1``, ``_2``, ...) and ``'stack/first'``."""
        out = {}
        for key, preprocessor in self._stateful():
            for field, value in zip(self._fields[key], self._backend.read(key)):
                out[self._names[key] + field] = np.array(value)
        out[FIRST] = self._backend.first
        return out

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restores what `state()` returned (validated: names, shapes, dtypes, finite)."""
        if not isinstance(state, Mapping):
            raise ConfigError(f'load_state: expected a dict of named arrays; received {type(state).__name__}')
        expected = self.state()
        missing, unknown = sorted(set(expected) - set(state)), sorted(map(str, set(state) - set(expected)))
        if missing or unknown:
            raise ConfigError(f'load_state: the names differ from this stack\'s: ' + '; '.join(
                ([f'missing {missing}'] if missing else []) + ([f'unknown {unknown}'] if unknown else [])))
        loaded = {}
        for name, reference in expected.items():
            try:
                value = np.asarray(state[name])
            except Exception as error:  # noqa: BLE001 - anything not an array is a bad state
                raise ConfigError(f'load_state: {name!r} is not an array: {error!r}') from None
            if value.shape != reference.shape or not np.can_cast(value.dtype, reference.dtype, 'safe'):
                raise ConfigError(f'load_state: {name!r}: expected {reference.dtype.name} array of shape '
                                  f'{reference.shape}; received {value.dtype.name} array of shape {value.shape}')
            if value.dtype.kind == 'f' and not np.isfinite(value).all():
                raise ConfigError(f'load_state: {name!r} holds a non-finite value')
            loaded[name] = value.astype(reference.dtype)
        values = {key: tuple(loaded[self._names[key] + field] for field in self._fields[key])
                  for key, _ in self._stateful()}
        for key, preprocessor in self._stateful():
            try:
                preprocessor.check_state(values[key])
                self._backend.check(key, values[key])
            except ConfigError as error:
                raise ConfigError(f'load_state: {self._names[key][:-1]!r}: {error}') from None
        for key, _ in self._stateful():
            self._backend.write(key, values[key])
        self._backend.set_first(loaded[FIRST])
        frozen = [bool(loaded[self._names[key] + 'frozen']) for key, p in self._stateful()
                  if 'frozen' in p.state_names]
        if frozen:
            self._frozen = all(frozen)

    def apply_tf(self, inputs: Mapping[str, Any], update: bool = True, first: Any = None) -> dict[str, Any]:
        """The TF computation on batched tensors, in the caller's graph (TF backend).

        For a caller that compiles the stack into its own function (an agent's
        act): `update` records the step in the stack's memory (False peeks);
        `first`, a bool tensor per environment, starts their episodes anew
        inside the same call (besides those `reset` marked).
        """
        if self.backend != 'tf':
            raise ConfigError("apply_tf needs backend='tf'")
        return self._backend.apply(dict(inputs), update=update, first=first)

    def tf_resources(self) -> list:
        """The TF variables and tables `apply_tf` reads: track them in a SavedModel that calls it."""
        if self.backend != 'tf':
            raise ConfigError("tf_resources needs backend='tf'")
        return self._backend.trackables()

    @property
    def tracing_count(self) -> int:
        """How often the TF function was traced (1 after any number of calls)."""
        return getattr(self._backend, 'tracing_count', 0)

    def __reduce__(self):
        options = dict(num_envs=self.num_envs, backend=self.backend, jit_compile=self.jit_compile)
        return _unpickle, (dict(self.input_states), self.config(), options, self.state())

    def __repr__(self) -> str:
        chains = {name: [p.type or type(p).__name__ for p in chain] for name, chain in self._chains.items()}
        return f'Stack({chains}, num_envs={self.num_envs}, backend={self.backend!r})'

    # -- internals -----------------------------------------------------------

    def _stateful(self):
        return stateful(self._chains)

    def _state_names(self) -> dict[tuple[str, int], str]:
        """The public prefix of each stateful preprocessor's arrays."""
        names: dict[tuple[str, int], str] = {}
        seen: dict[tuple[str, str], int] = {}
        for (name, index), preprocessor in self._stateful():
            kind = preprocessor.type or type(preprocessor).__name__
            count = seen.get((name, kind), 0)
            seen[(name, kind)] = count + 1
            names[(name, index)] = f'{name}/{kind}{f"_{count}" if count else ""}/'
        return names

    def _quick_inputs(self, states: Any) -> tuple[dict[str, np.ndarray], bool] | None:
        """`_inputs` for arrays of exactly the input specs' dtypes and shapes (all batched or, with one
        environment, all single), inside their bounds: checked without the general validators' work.
        None for anything else, which `_inputs` then checks (and names what is wrong)."""
        if self._quick is None or type(states) is not dict or len(states) != len(self._quick):
            return None
        inputs, kinds = {}, set()
        for name, dtype, single, batched, check in self._quick:
            value = states.get(name)
            if type(value) is not np.ndarray or value.dtype != dtype:
                return None
            if value.shape == batched:
                kinds.add(False)
            elif value.shape == single and self.num_envs == 1:
                kinds.add(True)
                value = value[None]
            else:
                return None
            if check is not None and not check(value):
                return None
            inputs[name] = value
        if len(kinds) != 1:
            return None
        return inputs, kinds.pop()

    def _inputs(self, states: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], bool]:
        """Every input state checked (those without preprocessing too) and batched: `num_envs` rows,
        or one unbatched set of states when `num_envs` is 1."""
        if isinstance(states, Mapping) and set(states) != set(self.input_states):
            missing = [name for name in self.input_states if name not in states]
            if missing:
                raise SpecError(missing[0], f'the state keys {list(self.input_states)}', f'missing {missing}')
            states = {name: states[name] for name in self.input_states}  # other keys pass by, unused
        inputs, single = self._batcher(states, rows=self.num_envs)
        if single and self.num_envs != 1:
            name = next(iter(self.input_states))
            raise SpecError(name, f'a batch of {self.num_envs} (num_envs={self.num_envs})',
                            f'shape {np.shape(states[name])}')
        rows = next(iter(inputs.values())).shape[0] if inputs else self.num_envs
        if rows != self.num_envs:
            name = next(iter(self.input_states))
            raise SpecError(name, f'shape {(self.num_envs,) + self.input_states[name].shape} '
                            f'(num_envs={self.num_envs})', f'shape {np.shape(states[name])}')
        return inputs, single


def _quick_checks(specs: Mapping[str, Spec], num_envs: int) -> list[tuple] | None:
    """Per input state ``(name, dtype, shape, batched shape, bounds check or None)`` for
    `Stack._quick_inputs`; None if a state is text (always checked the general way)."""
    quick = []
    for name, spec in specs.items():
        if is_text(spec):
            return None
        quick.append((name, spec.dtype, spec.shape, (num_envs,) + spec.shape, column_bounds(spec)))
    return quick


def _unpickle(states: dict[str, Spec], config: dict[str, Any], options: dict[str, Any],
              state: dict[str, np.ndarray]) -> Stack:
    stack = Stack(states, config, safe_mode=False, **options)
    stack.load_state(state)
    return stack
