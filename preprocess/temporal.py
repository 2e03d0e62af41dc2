"""Preprocessors with per-environment memory: `sequence`, `frame_max`, `deltafier`.

Each keeps its previous input(s) per environment; where the stack's `first`
mask is set (an episode starts), that memory is filled from the current
input, so nothing leaks from one episode into the next.
"""

from __future__ import annotations

import sys
from typing import Any

import cv2
import numpy as np

from modalbridge.bridges.arguments import integer
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, describe, is_text
from modalbridge.preprocess.base import Preprocessor, float_spec, require_numeric, same_kind_spec
from modalbridge.preprocess.scalar import Normalize, Scale


FUSABLE_DTYPES = (np.uint8, np.int8, np.uint16, np.int16)  # small integers: the fused steps inverted by table
_CV2_MERGE_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32, np.float64)
_CV2_MAX_CHANNELS = 512  # OpenCV's CV_CN_MAX
MAX_LENGTH = 1 << 12  # frames kept per environment; far beyond any use, short of a memory error


def _mask(first: Any, rank: int, tf: Any = None) -> Any:
    """`first` (batch,) reshaped to broadcast against a (batch, ...) array of `rank` axes."""
    shape = (-1,) + (1,) * (rank - 1)
    return first.reshape(shape) if tf is None else tf.reshape(first, shape)


class Sequence(Preprocessor):
    """Concatenates the last `length` inputs along `axis`, oldest first.

    At an episode start the first input fills the whole buffer. Output spec:
    the input's shape with `axis` multiplied by `length` (a scalar becomes
    shape (length,)); dtype and bounds kept. ``sequence(4)`` on (84, 84, 1)
    frames gives (84, 84, 4).
    """

    type = 'sequence'
    stateful = True
    state_names = ('buffer',)

    def __init__(self, spec: Spec, length: int, axis: int = -1):
        length, axis = integer('length', length, minimum=1, maximum=MAX_LENGTH), integer('axis', axis)
        if is_text(spec):
            raise ConfigError(f'expects a numeric or bool array; got {describe(spec)}')
        rank = len(spec.shape)
        if rank and not -rank <= axis < rank:
            raise ConfigError(f'axis {axis} is out of range for {describe(spec)}')
        self.length = int(length)
        self.axis = axis % rank if rank else 0
        shape = list(spec.shape) or [1]
        shape[self.axis] *= self.length
        super().__init__(spec, same_kind_spec(spec, tuple(shape)))

    def initial_state(self, num_envs: int) -> tuple[np.ndarray, ...]:
        return (np.zeros((num_envs, self.length) + self.input_spec.shape, self.input_spec.dtype),)

    def _output_perm(self) -> list[int]:
        rank = len(self.input_spec.shape)
        # (batch, length, d0, ..., d_{r-1}) -> (batch, d0, .., length, d_axis, ...)
        dims = [0] + [2 + i for i in range(rank)]
        dims.insert(1 + self.axis, 1)
        return dims

    def numpy_step(self, x, state, first):
        buffer = np.concatenate([state[0][:, 1:], x[:, None]], axis=1)
        if first.any():
            buffer[first] = x[first][:, None]
        y = buffer.transpose(self._output_perm()).reshape((x.shape[0],) + self.spec.shape)
        return y, (buffer,)

    def tf_step(self, x, state, first):
        import tensorflow as tf
        shifted = tf.concat([state[0][:, 1:], x[:, None]], axis=1)
        filled = tf.broadcast_to(x[:, None], tf.shape(shifted))
        buffer = tf.where(_mask(first, len(shifted.shape), tf), filled, shifted)
        y = tf.reshape(tf.transpose(buffer, self._output_perm()), (-1,) + self.spec.shape)
        return y, (buffer,)


class FrameMax(Preprocessor):
    """``max(x_t, x_{t-1})`` elementwise (``x_{t-1} = x_t`` at an episode start).

    Removes Atari flicker. Output spec: the input spec.
    """

    type = 'frame_max'
    stateful = True
    state_names = ('previous',)

    def __init__(self, spec: Spec):
        super().__init__(spec, require_numeric(spec))

    def initial_state(self, num_envs: int) -> tuple[np.ndarray, ...]:
        return (np.zeros((num_envs,) + self.input_spec.shape, self.input_spec.dtype),)

    def numpy_step(self, x, state, first):
        previous = np.where(_mask(first, x.ndim), x, state[0])
        return np.maximum(x, previous), (x.copy(),)

    def tf_step(self, x, state, first):
        import tensorflow as tf
        previous = tf.where(_mask(first, len(x.shape), tf), x, state[0])
        return tf.maximum(x, previous), (x,)


class Deltafier(Preprocessor):
    """``x_t - x_{t-1}`` as float32 (zeros at an episode start).

    Output spec: float32 `Array` of the same shape.
    """

    type = 'deltafier'
    stateful = True
    state_names = ('previous',)

    def __init__(self, spec: Spec):
        super().__init__(spec, float_spec(require_numeric(spec)))

    def initial_state(self, num_envs: int) -> tuple[np.ndarray, ...]:
        return (np.zeros((num_envs,) + self.input_spec.shape, np.float32),)

    def numpy_step(self, x, state, first):
        x = x.astype(np.float32)
        previous = np.where(_mask(first, x.ndim), x, state[0])
        return x - previous, (x,)

    def tf_step(self, x, state, first):
        import tensorflow as tf
        x = tf.cast(x, tf.float32)
        previous = tf.where(_mask(first, len(x.shape), tf), x, state[0])
        return x - previous, (x,)


class SequenceRing:
    """The NumPy backend's `sequence`: a ring of frames, optionally with elementwise steps fused in.

    Each step writes the new frame into one slot (no shift of the whole
    buffer); the output is the one contiguous copy it needs anyway, the
    slots read oldest first (`cv2.merge` where the frames stack on their
    last axis: an order of magnitude faster than NumPy's strided copy).
    `fused` elementwise preprocessors (`normalize`, `scale`) that came before
    the `sequence` on small integers (uint8 frames) run once per new frame,
    as it enters the ring: the stack carries the frames as integers up to
    the ring, the ring keeps them after the fused steps, and an output
    stacks them without running those steps on all `length` frames again;
    as they map each value on its own, the bits are those of the unfused
    chain. `read` / `write` speak the public layout (``(num_envs, length,
    *frame)``, oldest first, after the fused steps); a state written back
    must be what some integer frame gives.

    >>> from modalbridge.bridges.specs import from_dict
    >>> ring = SequenceRing(Sequence(from_dict(dict(type='float', shape=(1,)), name='x'), length=2), 1)
    >>> first = np.array([True])
    >>> ring.output(np.array([[1.0]], np.float32), first).tolist()
    [[1.0, 1.0]]
    >>> ring.commit(np.array([[1.0]], np.float32), first)
    >>> ring.output(np.array([[2.0]], np.float32), None).tolist()
    [[1.0, 2.0]]
    """

    def __init__(self, sequence: Sequence, num_envs: int, fused: tuple = ()):
        self.sequence, self.num_envs, self.fused = sequence, num_envs, tuple(fused)
        spec = sequence.input_spec
        self.length, self.axis = sequence.length, sequence.axis
        self.frame = (num_envs,) + (spec.shape or (1,))
        self.out_shape = (num_envs,) + sequence.spec.shape
        self.raw_dtype = spec.dtype
        self._table: tuple[np.ndarray, np.ndarray] | None = None
        if fused:  # every raw value and what the fused steps make of it, to check a state written back
            values = np.arange(np.iinfo(spec.dtype).min, np.iinfo(spec.dtype).max + 1, dtype=spec.dtype)
            table = self._forward(values)
            order = np.argsort(table, kind='stable')
            self._table = (table[order], values[order])
        # Slot by slot, each contiguous: the frames after the fused steps (run once per new frame),
        # `length` of them and a spare, which takes the next frame (so a step copies nothing more).
        self.ring = self._forward(np.zeros((self.length + 1,) + self.frame, spec.dtype))
        self.position = self.length - 1  # the slot of the newest frame
        channels = self.frame[-1] * self.length
        self._merge = (self.axis == len(self.frame) - 2 and self.ring.dtype.type in _CV2_MERGE_DTYPES
                       and channels <= _CV2_MAX_CHANNELS)
        self._rows = (int(np.prod(self.frame[:-1])), 1, self.frame[-1])  # the frames as one cv2 image
        # Per position of the newest frame: the slots oldest first (views, shaped for cv2.merge if
        # used) and the spare after it.
        views = [slot.reshape(self._rows) if self._merge else slot for slot in self.ring]
        slots = self.length + 1
        self._orders = [[(position + 2 + k) % slots for k in range(self.length)] for position in range(slots)]
        self._slots = [[views[k] for k in order] for order in self._orders]
        self._spares = [(self.ring[(position + 1) % slots], views[(position + 1) % slots]) for position in range(slots)]
        self._pending: Any = None  # the `x` whose fused frame the spare holds (from the last `output`)

    @staticmethod
    def fusable(preprocessor: Preprocessor, spec: Spec) -> bool:
        """Whether `preprocessor` (on input `spec`) can run on the ring's output instead."""
        if is_text(spec) or spec.dtype.type not in FUSABLE_DTYPES + (np.float32,):
            return False
        return isinstance(preprocessor, Scale) or (isinstance(preprocessor, Normalize)
                                                   and np.ndim(preprocessor._low) == 0)

    def _forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The fused steps on `x` (into `out`, float32, if given), operation for operation as their
        `numpy` runs them."""
        if not self.fused:
            return x
        # One conversion first (exact for the small integers fused; a copy of float32), then the
        # float32 operations in place: the same bits as the ufuncs casting as they go, and faster.
        if out is None:
            out = x.astype(np.float32)
        else:
            np.copyto(out, x.reshape(out.shape))
        for preprocessor in self.fused:
            if isinstance(preprocessor, Normalize):
                if preprocessor._low != 0:  # y - 0 == y in float32: that pass changes no bit
                    np.subtract(out, preprocessor._low, out=out)
                np.divide(out, preprocessor._range, out=out)
            else:
                np.multiply(out, preprocessor.factor, out=out)
        return out

    def _frames(self, new: np.ndarray | None) -> list[np.ndarray]:
        """The slots oldest first: all `length` of them, or the last `length - 1` and then `new`."""
        slots = self._slots[self.position]
        return list(slots) if new is None else slots[1:] + [new]

    def _order(self) -> list[int]:
        return self._orders[self.position]

    def output(self, x: np.ndarray, first: np.ndarray | None) -> np.ndarray:
        """The stacked frames after `x` (batched, raw), without recording it; `first` (None: no
        episode starts) marks the environments whose frames are all `x`."""
        new = x.reshape(self._rows if self._merge else self.frame)
        if self.fused:  # into the spare slot, which the ring's state does not include
            spare, new = self._spares[self.position]
            self._forward(x, spare)
            self._pending = x
        frames = self._frames(new)
        if first is not None and first.any():  # an episode starts: every frame is the new one
            mask: np.ndarray = first.reshape((-1,) + (1,) * (len(self.frame) - 1))
            if self._merge:
                mask = np.repeat(mask.reshape(-1), len(new) // self.num_envs).reshape(-1, 1, 1)
            frames = [np.where(mask, new, frame) for frame in frames]
        if self._merge:
            out = cv2.merge(frames)
        else:
            out = np.concatenate(frames, axis=self.axis + 1)
        return out.reshape(self.out_shape)

    def commit(self, x: np.ndarray, first: np.ndarray | None) -> None:
        """Records `x` as the newest frame (in every slot for the environments in `first`)."""
        spare = self._spares[self.position][0]
        pending, self._pending = self._pending, None
        if pending is not x or not self.fused:
            self._forward(x, spare) if self.fused else np.copyto(spare, x.reshape(self.frame))
        self.position = (self.position + 1) % (self.length + 1)  # the spare is the newest slot now
        if first is not None and first.any():
            self.ring[:, first] = spare[first]

    def read(self) -> tuple[np.ndarray]:
        frames = np.stack([self.ring[k] for k in self._order()], axis=1)
        return (frames.reshape((self.num_envs, self.length) + self.sequence.input_spec.shape),)

    def raw(self, values: tuple) -> np.ndarray:
        """The frames to keep for the state `values` (oldest first, after the fused steps); a
        ConfigError if no raw frame gives them."""
        buffer = np.asarray(values[0])
        if not self.fused:
            return buffer.astype(self.ring.dtype)
        assert self._table is not None  # fused implies it
        table, _ = self._table
        index = np.clip(np.searchsorted(table, buffer), 0, len(table) - 1)
        if not np.array_equal(table[index], buffer):
            raise ConfigError(f'holds values that no {self.raw_dtype.name} frame gives after '
                              f'{[p.type for p in self.fused]}')
        return table[index]

    def write(self, values: tuple) -> None:
        frames = self.raw(values).reshape((self.num_envs, self.length) + self.frame[1:])
        for k, slot in enumerate(self._order()):
            self.ring[slot] = frames[:, k]


class SequenceWindow:
    """The TF backend's `sequence`: its memory is its last output, in the output's own layout.

    Each step is one concatenation (the window without its oldest frame,
    then the new one) that is both the output and the new memory, with no
    transpose; episode starts (rare) take a branch that fills the window
    with the new frame. As in `SequenceRing`, `fused` elementwise steps
    (`normalize`, `scale`) that came before the `sequence` run on its output
    instead, so the window holds the raw small-integer frames (uint8: a
    quarter of float32's bytes). `public` / `internal` convert the memory to
    and from the named state's layout ``(num_envs, length, *frame)``, oldest
    first, after the fused steps, so checkpoints do not depend on the backend.

    >>> import tensorflow as tf
    >>> from modalbridge.bridges.specs import from_dict
    >>> window = SequenceWindow(Sequence(from_dict(dict(type='float', shape=(1,)), name='x'), length=2))
    >>> memory = tf.constant(window.initial(1))
    >>> y, memory = window.step(tf.constant([[1.0]]), memory, tf.constant([True]))
    >>> y.numpy().tolist(), window.public(memory.numpy()).tolist()
    ([[1.0, 1.0]], [[[1.0], [1.0]]])
    >>> window.step(tf.constant([[2.0]]), memory, tf.constant([False]))[0].numpy().tolist()
    [[1.0, 2.0]]
    """

    def __init__(self, sequence: Sequence, fused: tuple = (), pack: bool = True):
        self.sequence, self.fused = sequence, tuple(fused)
        self.dtype = (fused[0].input_spec if fused else sequence.input_spec).dtype
        self.frame = sequence.input_spec.shape
        self.length, self.axis = sequence.length, sequence.axis
        self.width = self.frame[self.axis] if self.frame else 1  # the new frame's extent along `axis`
        # With `pack`, where a pixel's whole window fits in one 2-, 4- or 8-byte word (4 uint8 frames
        # stacked on the last axis), the window is that word and a step two shifts and an or: stock TF
        # concatenates along a short last axis element by element, several times slower (XLA fuses
        # the concatenation and is slower on the words, so its backend passes pack=False).
        chunk = self.width * self.dtype.itemsize
        words = {2: np.uint16, 4: np.uint32, 8: np.uint64}
        self._packed = (pack and sys.byteorder == 'little' and self.length > 1 and self.dtype.kind in 'iu'
                        and chunk in (1, 2, 4) and self.length * chunk in words
                        and self.axis == max(len(self.frame) - 1, 0))
        self._word = words.get(self.length * chunk)
        self._chunk = {1: np.uint8, 2: np.uint16, 4: np.uint32}.get(chunk)
        self._table: tuple[np.ndarray, np.ndarray] | None = None
        if fused:
            info = np.iinfo(self.dtype)
            values = np.arange(info.min, info.max + 1, dtype=self.dtype)
            table = self._forward(values)
            order = np.argsort(table, kind='stable')
            self._table = (table[order], values[order])

    def _forward(self, x: np.ndarray) -> np.ndarray:
        for preprocessor in self.fused:
            x = preprocessor.numpy(x)
        return x

    def initial(self, num_envs: int) -> np.ndarray:
        return np.zeros((num_envs,) + self.sequence.spec.shape, self.dtype)

    def public(self, window: np.ndarray) -> np.ndarray:
        """(num_envs, *output) raw -> (num_envs, length, *frame) after the fused steps."""
        split = self.frame[:self.axis] + (self.length,) + (self.frame[self.axis:] or ())
        return self._forward(np.moveaxis(window.reshape((len(window),) + split), 1 + self.axis, 1))

    def internal(self, buffer: Any) -> np.ndarray:
        """(num_envs, length, *frame) -> (num_envs, *output) raw; a ConfigError if no raw frames give
        `buffer` after the fused steps."""
        buffer = np.asarray(buffer)
        if self._table is not None:
            table, raw = self._table
            index = np.clip(np.searchsorted(table, buffer), 0, len(table) - 1)
            if not np.array_equal(table[index], buffer):
                raise ConfigError(f'holds values that no {self.dtype.name} frame gives after '
                                  f'{[p.type for p in self.fused]}')
            buffer = raw[index]
        return np.ascontiguousarray(np.moveaxis(buffer.astype(self.dtype), 1, 1 + self.axis)).reshape(
            (len(buffer),) + self.sequence.spec.shape)

    def step(self, x: Any, window: Any, first: Any) -> tuple[Any, Any]:
        """``(output, new window)`` after `x` (batched raw frames), from the previous `window`."""
        import tensorflow as tf
        axis = 1 + self.axis
        new = tf.reshape(x, (-1,) + (self.frame or (1,)))
        if self._packed:
            window = self._packed_step(new, window, first, tf)
        else:
            window = self._concat_step(new, window, first, axis, tf)
        out = window
        for preprocessor in self.fused:
            out = preprocessor.tf(out)
        return out, window

    def _packed_step(self, new: Any, window: Any, first: Any, tf: Any) -> Any:
        """Oldest frame in the lowest bytes (little-endian): shift it out, or the new one in on top."""
        word, bits = tf.as_dtype(self._word), self.width * self.dtype.itemsize * 8
        chunk = tf.bitcast(new, tf.as_dtype(self._chunk))  # one unsigned integer per pixel
        if chunk.shape.rank == new.shape.rank:  # a one-byte chunk keeps its axis
            chunk = chunk[..., 0]
        chunk = tf.cast(chunk, word)
        packed = tf.bitcast(window, word)
        shifted = tf.bitwise.bitwise_or(tf.bitwise.right_shift(packed, tf.constant(bits, word)),
                                        tf.bitwise.left_shift(chunk, tf.constant(bits * (self.length - 1), word)))

        def filled():
            full = chunk
            for k in range(1, self.length):
                full = tf.bitwise.bitwise_or(full, tf.bitwise.left_shift(chunk, tf.constant(bits * k, word)))
            return tf.where(_mask(first, len(shifted.shape), tf), full, shifted)
        packed = tf.cond(tf.reduce_any(first), filled, lambda: shifted)
        return tf.reshape(tf.bitcast(packed, tf.as_dtype(self.dtype)), (-1,) + self.sequence.spec.shape)

    def _concat_step(self, new: Any, window: Any, first: Any, axis: int, tf: Any) -> Any:
        begin = [0] * len(window.shape)
        begin[axis] = self.width
        shifted = tf.concat([tf.slice(window, begin, [-1] * len(window.shape)), new], axis=axis) \
            if self.length > 1 else new

        def filled():
            full = tf.concat([new] * self.length, axis=axis) if self.length > 1 else new
            return tf.where(_mask(first, len(shifted.shape), tf), full, shifted)
        return tf.cond(tf.reduce_any(first), filled, lambda: shifted)
