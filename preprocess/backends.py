"""The two backends a `Stack` runs on, one object each.

A backend holds the memory of a stack's stateful preprocessors (one tuple
of arrays per preprocessor, keyed by ``(state, index)``) and the
episode-start mask, and runs every chain on a batch. Both answer the same
calls: ``run(inputs, update)``, ``reset(mask)``, ``read(key)`` /
``write(key, values)`` and ``first`` / ``set_first(mask)``, so the `Stack`
never asks which one it holds.

>>> import numpy as np
>>> from modalbridge.bridges.specs import from_dict
>>> from modalbridge.preprocess.temporal import Sequence
>>> chains = {'x': [Sequence(from_dict(dict(type='float', shape=(1,)), name='x'), length=2)]}
>>> backend = NumpyBackend(chains, num_envs=1)
>>> backend.run({'x': np.array([[1.0]], np.float32)})['x'].tolist()
[[1.0, 1.0]]
>>> backend.run({'x': np.array([[2.0]], np.float32)})['x'].tolist()
[[1.0, 2.0]]
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, is_text
from modalbridge.preprocess.base import Preprocessor
from modalbridge.preprocess.image import AreaOfGray, Grayscale, ImageResize
from modalbridge.preprocess.temporal import FUSABLE_DTYPES, Sequence, SequenceRing, SequenceWindow

Chains = Mapping[str, list[Preprocessor]]
Key = tuple[str, int]
_PLAIN, _STATEFUL, _RING, _INTO = 'plain', 'stateful', 'ring', 'into'
_WRITES_INTO = (Grayscale, ImageResize)  # the plain steps that take an `out` array to write into
_SHARE_BYTES, _ALIGN = 1 << 16, 64  # inputs handed to TF through DLPack: at least 64 KiB; 64-byte alignment


def stateful(chains: Chains):
    """``((state, index), preprocessor)`` for every stateful preprocessor, in chain order."""
    for name, chain in chains.items():
        for index, preprocessor in enumerate(chain):
            if preprocessor.stateful:
                yield (name, index), preprocessor


def _plan_chain(name: str, chain: list[Preprocessor], ring: Callable[[Key, Sequence, tuple], Any],
                fuse: Callable[[Preprocessor, Preprocessor], Any] | None = None) -> list[tuple[str, Key | None, Any]]:
    """A backend's steps for one state's chain: ``(kind, key, step)`` with kind plain, stateful or ring.

    Each plain `sequence` becomes ``ring(key, sequence, fused)``, where `fused` are the `normalize` /
    `scale` steps right before it on small integers, run on its output instead (a subclass of
    `Sequence` may step differently and is left as it is); `fuse(previous, step)`, when it returns a
    step, replaces two consecutive plain steps by one.
    """
    plan: list[tuple[str, Key | None, Any]] = []
    trailing = 0  # how many plain steps end the plan so far
    for index, preprocessor in enumerate(chain):
        fused = (fuse(chain[index - 1], preprocessor)
                 if fuse is not None and index and plan and plan[-1][2] is chain[index - 1] else None)
        if fused is not None:
            plan[-1] = (_PLAIN, None, fused)
        elif type(preprocessor) is Sequence:
            start = index  # the fused steps are chain[start:index]
            while (index - start < trailing
                   and SequenceRing.fusable(chain[start - 1], chain[start - 1].input_spec)):
                start -= 1
            while start < index and chain[start].input_spec.dtype.type not in FUSABLE_DTYPES:
                start += 1
            del plan[len(plan) - (index - start):]
            sequence = preprocessor if start == index else Sequence(chain[start].input_spec, preprocessor.length,
                                                                    preprocessor.axis)
            plan.append((_RING, (name, index), ring((name, index), sequence, tuple(chain[start:index]))))
            trailing = 0
        elif preprocessor.stateful:
            plan.append((_STATEFUL, (name, index), preprocessor))
            trailing = 0
        else:
            plan.append((_PLAIN, None, preprocessor))
            trailing += 1
    return plan


class NumpyBackend:
    """Runs the chains with NumPy and OpenCV; never imports TensorFlow.

    Each `sequence` runs as a `SequenceRing`, with the `normalize` / `scale`
    steps right before it fused into its output copy when its input is a
    small integer (the frames stay uint8 in its memory, the outputs and the
    named state are unchanged).
    """

    name = 'numpy'

    def __init__(self, chains: Chains, num_envs: int, **_: Any):
        self.chains, self.num_envs = chains, num_envs
        self._plans = {name: self._buffered(self._plan(name, chain)) for name, chain in chains.items()}
        self._rings = {key: step for plan in self._plans.values() for kind, key, step in plan if kind == _RING}
        self._memory = {key: p.initial_state(num_envs) for key, p in stateful(chains) if key not in self._rings}
        self._zeros = np.zeros(num_envs, bool)
        self._zeros.flags.writeable = False
        self._first = np.ones(num_envs, bool)
        self._starts = True  # whether `_first` marks any environment

    def _plan(self, name: str, chain: list[Preprocessor]) -> list[tuple[str, Key | None, Any]]:
        return _plan_chain(name, chain, lambda key, sequence, fused: SequenceRing(sequence, self.num_envs, fused))

    def _buffered(self, plan: list[tuple[str, Any, Any]]) -> list[tuple[str, Any, Any]]:
        """`plan` with the intermediate frames of OpenCV steps written into arrays allocated once
        (``(_INTO, step.numpy_into(buffer), step)``): where the next step only reads them (another
        such step, or a ring, which copies what it keeps), so no output and no memory holds a buffer."""
        out = []
        for index, (kind, key, step) in enumerate(plan):
            following = plan[index + 1] if index + 1 < len(plan) else None
            run = None
            if (kind == _PLAIN and type(step) in _WRITES_INTO and following is not None
                    and (following[0] == _RING or (following[0] == _PLAIN and type(following[2]) in _WRITES_INTO))):
                run = step.numpy_into(np.empty((self.num_envs,) + step.spec.shape, step.spec.dtype))
            out.append((kind, key, step) if run is None else (_INTO, run, step))
        return out

    def run(self, inputs: Mapping[str, np.ndarray], update: bool = True) -> dict[str, np.ndarray]:
        first, outputs, memory, commits = self._first, {}, {}, []
        starts = first if self._starts else None
        for name, plan in self._plans.items():
            x = inputs[name]
            for kind, key, step in plan:
                if kind == _PLAIN:
                    x = step.numpy(x)
                elif kind == _INTO:
                    x = key(x)  # `key`: the step writing into its buffer (`numpy_into`)
                elif kind == _RING:
                    commits.append((step, x))
                    x = step.output(x, starts)
                else:
                    x, memory[key] = step.numpy_step(x, self._memory[key], first)
            outputs[name] = x
        if update:  # only once every state went through: a failure leaves the memory as it was
            self._memory.update(memory)
            for ring, x in commits:
                ring.commit(x, starts)
            self._first, self._starts = self._zeros, False
        return outputs

    def reset(self, mask: np.ndarray) -> None:
        self._first = self._first | mask
        self._starts = bool(self._first.any())

    def read(self, key: Key) -> tuple[np.ndarray, ...]:
        if key in self._rings:
            return self._rings[key].read()
        return tuple(np.array(value) for value in self._memory[key])

    def check(self, key: Key, values: tuple) -> None:
        """Raises a ConfigError if `values` cannot be written to `key` (before any key is written)."""
        if key in self._rings:
            self._rings[key].raw(values)

    def write(self, key: Key, values: tuple) -> None:
        if key in self._rings:
            self._rings[key].write(values)
        else:
            self._memory[key] = tuple(np.array(value) for value in values)

    @property
    def first(self) -> np.ndarray:
        return self._first.copy()

    def set_first(self, mask: np.ndarray) -> None:
        self._first = np.array(mask, bool)
        self._starts = bool(self._first.any())


class TFBackend:
    """Runs the chains as one `tf.function` (concrete, traced once), the memory in TF variables.

    Each plain `sequence` keeps its last output as its memory (`SequenceWindow`: no transpose, the
    frames raw with `normalize` / `scale` after it, packed into words without XLA); without XLA,
    `grayscale` then area `image_resize` on uint8 runs as TF's area kernel (`AreaOfGray`). A large
    aligned writeable input reaches TF through DLPack, without a copy. `apply` (a caller's graph)
    uses only XLA-compilable ops.
    """

    name = 'tf'

    def __init__(self, chains: Chains, num_envs: int, input_states: Mapping[str, Spec],
                 jit_compile: bool = False):
        import tensorflow as tf
        self.chains, self.num_envs = chains, num_envs
        if jit_compile:
            text = [name for name in chains if is_text(input_states[name])]
            if text:
                raise ConfigError(f'jit_compile: the text state(s) {text} use string ops, which XLA '
                                  'cannot compile; use jit_compile=False')
        for chain in chains.values():
            for preprocessor in chain:
                preprocessor.prepare_tf()
        self._first = tf.Variable(np.ones(num_envs, bool), trainable=False, name='first')
        self._jit = jit_compile
        self._staging: dict[str, np.ndarray] = {}
        self._windows: dict[Key, SequenceWindow] = {}
        self._plans = {name: self._plan(name, chain, fuse=not jit_compile) for name, chain in chains.items()}
        # For `apply` in a caller's graph, which XLA may compile: no TF kernel that XLA lacks (AreaOfGray).
        self._portable = {name: self._plan(name, chain, fuse=False) for name, chain in chains.items()}
        self._variables = {key: (tf.Variable(self._windows[key].initial(num_envs), trainable=False),)
                           if key in self._windows else
                           tuple(tf.Variable(value, trainable=False) for value in p.initial_state(num_envs))
                           for key, p in stateful(chains)}
        signature = {name: tf.TensorSpec((num_envs,) + input_states[name].shape,
                                          tf.string if is_text(input_states[name]) else input_states[name].dtype,
                                          name=name)
                     for name in chains}
        self.function = tf.function(lambda inputs: self._apply(inputs, self._plans), input_signature=[signature],
                                    jit_compile=jit_compile or None, reduce_retracing=False)
        peek = tf.function(lambda inputs: self._apply(inputs, self._plans, update=False), input_signature=[signature],
                           jit_compile=jit_compile or None)
        # Calling the concrete functions skips tf.function's dispatch (a large part of a call here).
        self._calls = {True: self.function.get_concrete_function(), False: peek.get_concrete_function()}

    def _plan(self, name: str, chain: list[Preprocessor], fuse: bool) -> list[tuple[str, Key | None, Any]]:
        """Each plain `sequence` as a `SequenceWindow`, one per (state, index) for both plans; with
        `fuse`, `grayscale` then area `image_resize` on uint8 as one `AreaOfGray`."""
        def window(key: Key, sequence: Sequence, fused: tuple) -> SequenceWindow:
            if key not in self._windows:  # one window (and variable) for both plans
                self._windows[key] = SequenceWindow(sequence, fused, pack=not self._jit)
            return self._windows[key]
        return _plan_chain(name, chain, window, AreaOfGray.fuse if fuse else None)

    def run(self, inputs: Mapping[str, np.ndarray], update: bool = True) -> dict[str, np.ndarray]:
        tensors, shared = {}, []
        for name, value in inputs.items():
            tensors[name], memory = self._tensor(name, value)
            if memory is not None:
                shared.append(memory)
        outputs = {name: value.numpy() for name, value in self._calls[update](tensors).items()}
        for name, value in outputs.items():
            # An output that is a view of shared memory (a `flatten`, say) must not change with it.
            if any(np.may_share_memory(value, memory) for memory in shared):
                outputs[name] = value.copy()
        return outputs

    def _tensor(self, name: str, value: np.ndarray) -> tuple[Any, np.ndarray | None]:
        """`value` as a tensor, and the memory it shares with NumPy (None: a copy of its own).

        A large numeric array reaches TF through DLPack: itself where it is aligned as TF's kernels
        need (64 bytes) and writeable, else copied into a staging array kept for the next calls. A
        `tf.constant` copy of a 64-env Atari batch (6.5 MB) is a fresh allocation each call, which
        glibc maps and faults in page by page: a tenth of the stack's time.
        """
        import tensorflow as tf
        if value.nbytes < _SHARE_BYTES or value.dtype.kind not in 'biuf':
            return tf.constant(value), None
        if not (value.flags.c_contiguous and value.flags.writeable and value.ctypes.data % _ALIGN == 0):
            staging = self._staging.get(name)
            if staging is None or staging.shape != value.shape or staging.dtype != value.dtype:
                staging = self._staging[name] = aligned_empty(value.shape, value.dtype)
            np.copyto(staging, value)
            value = staging
        return tf.experimental.dlpack.from_dlpack(value.__dlpack__()), value

    def apply(self, inputs: Mapping[str, Any], update: bool = True, first: Any = None) -> dict[str, Any]:
        """The computation on batched tensors, in the caller's graph (XLA-compilable for numeric
        states); `first` (a bool tensor per environment) marks more episode starts than the recorded ones."""
        return self._apply(inputs, self._portable, update, first)

    def _apply(self, inputs: Mapping[str, Any], plans: dict, update: bool = True, first: Any = None) -> dict[str, Any]:
        import tensorflow as tf
        outputs = {}
        first = self._first.read_value() if first is None else tf.logical_or(self._first.read_value(), first)
        for name, plan in plans.items():
            x = inputs[name]
            for kind, key, step in plan:
                if kind == _PLAIN:
                    x = step.tf(x)
                elif kind == _RING:
                    variable, = self._variables[key]
                    x, window = step.step(x, variable.read_value(), first)
                    if update:
                        variable.assign(window)
                else:
                    variables = self._variables[key]
                    x, new = step.tf_step(x, tuple(v.read_value() for v in variables), first)
                    if update:
                        for variable, value in zip(variables, new):
                            variable.assign(value)
            outputs[name] = x
        if update:
            self._first.assign(np.zeros(self.num_envs, bool))
        return outputs

    def reset(self, mask: np.ndarray) -> None:
        self._first.assign(self._first.read_value() | mask)

    def _internal(self, key: Key, values: tuple) -> tuple:
        return (self._windows[key].internal(values[0]),) if key in self._windows else values

    def read(self, key: Key) -> tuple[np.ndarray, ...]:
        values = tuple(variable.numpy() for variable in self._variables[key])
        return (self._windows[key].public(values[0]),) if key in self._windows else values

    def check(self, key: Key, values: tuple) -> None:
        """Raises a ConfigError if `values` cannot be written to `key` (before any key is written)."""
        if key in self._windows:
            self._windows[key].internal(values[0])

    def write(self, key: Key, values: tuple) -> None:
        for variable, value in zip(self._variables[key], self._internal(key, values)):
            variable.assign(value)

    @property
    def first(self) -> np.ndarray:
        return self._first.numpy()

    def set_first(self, mask: np.ndarray) -> None:
        self._first.assign(mask)

    @property
    def tracing_count(self) -> int:
        return self.function.experimental_get_tracing_count()

    def trackables(self) -> list:
        """The TF resources the computation reads (variables, lookup tables), for SavedModel export."""
        import tensorflow as tf
        found = [self._first] + [variable for variables in self._variables.values() for variable in variables]
        for chain in self.chains.values():
            for preprocessor in chain:
                found.extend(value for value in vars(preprocessor).values()
                             if isinstance(value, tf.__internal__.tracking.Trackable))
        return found


def aligned_empty(shape: tuple, dtype: Any) -> np.ndarray:
    """An uninitialised array whose data starts on a 64-byte boundary (TF's own alignment).

    >>> aligned_empty((3, 5), np.uint8).ctypes.data % 64
    0
    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + _ALIGN, np.uint8)
    offset = -raw.ctypes.data % _ALIGN
    return raw[offset:offset + size].view(dtype).reshape(shape)


BACKENDS = {'tf': TFBackend, 'numpy': NumpyBackend}
