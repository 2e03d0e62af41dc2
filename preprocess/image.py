"""Image preprocessors: `image_resize`, `grayscale`, `crop`.

Both keep the dtype as OpenCV does (uint8 in, uint8 out, rounded half to
even and saturated; float in, float out), so frames stay small until a
float step is asked for.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from modalbridge.bridges.arguments import boolean, choice, integer, number
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, describe
from modalbridge.preprocess.base import Preprocessor, require_image, require_numeric, round_to, same_kind_spec

_OPENCV_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)
_CV2_METHODS = {'area': cv2.INTER_AREA, 'bilinear': cv2.INTER_LINEAR, 'nearest': cv2.INTER_NEAREST}
DEFAULT_GRAY = (0.299, 0.587, 0.114)
# OpenCV's fixed-point RGB->gray for 8-bit images: weights * 2**15, rounded.
_GRAY_FIXED = (9798, 19235, 3735)
_GRAY_SHIFT = 15
MAX_SIZE = 1 << 15  # pixels along one axis; far beyond any observation, short of a memory error


def resize_weights(size_in: int, size_out: int, method: str) -> np.ndarray:
    """The (size_out, size_in) matrix of one axis of an OpenCV resize.

    area (shrinking only): output pixel i averages the input interval
    [i*s, (i+1)*s), s = size_in / size_out, each input pixel weighted by its
    overlap. bilinear: half-pixel centres, source = (i + 0.5) * s - 0.5,
    clamped at the borders. nearest: source = floor(i * s).
    """
    scale = size_in / size_out
    weights = np.zeros((size_out, size_in), np.float64)
    for i in range(size_out):
        if method == 'area':
            start, stop = i * scale, (i + 1) * scale
            for k in range(int(np.floor(start)), min(int(np.ceil(stop)), size_in)):
                weights[i, k] = (min(stop, k + 1) - max(start, k)) / scale
        elif method == 'bilinear':
            source = (i + 0.5) * scale - 0.5
            left = int(np.floor(source))
            frac = source - left
            if left < 0:
                left, frac = 0, 0.0
            if left >= size_in - 1:
                left, frac = size_in - 1, 0.0
            weights[i, left] += 1.0 - frac
            if frac:
                weights[i, left + 1] += frac
        else:
            weights[i, min(int(np.floor(i * scale)), size_in - 1)] = 1.0
    return weights


class ImageResize(Preprocessor):
    """Resizes (height, width, channels) images to (height, width, channels).

    Arguments are always (height, width). ``method='area'`` equals OpenCV's
    ``INTER_AREA`` (each output pixel the overlap-weighted mean of the input
    pixels it covers; for shrinking), ``'bilinear'`` ``INTER_LINEAR`` and
    ``'nearest'`` ``INTER_NEAREST``. The NumPy backend calls `cv2.resize`;
    the TF backend applies the same separable weights (XLA-compilable):
    rows as a band of gathers, columns as matrix products, block by block
    where the weights repeat: equal on float input (to float32 rounding),
    and on integer input equal for integer ratios and nearest, within 1 for
    under 1% of pixels at other area ratios (OpenCV's float accumulation
    order) and for about 13% at other bilinear ratios (OpenCV's 11-bit
    fixed-point weights).
    Output spec: shape (height, width, channels), dtype and bounds kept.

    >>> dict(type='image_resize', height=84, width=84)
    {'type': 'image_resize', 'height': 84, 'width': 84}
    """

    type = 'image_resize'

    def __init__(self, spec: Spec, height: int, width: int, method: str = 'area'):
        height = integer('height', height, minimum=1, maximum=MAX_SIZE)
        width = integer('width', width, minimum=1, maximum=MAX_SIZE)
        method = choice('method', method, sorted(_CV2_METHODS))
        require_image(spec)
        if spec.dtype.type not in _OPENCV_DTYPES:
            raise ConfigError(f'dtype {spec.dtype} is not resized by OpenCV; expected one of '
                              f'{[np.dtype(d).name for d in _OPENCV_DTYPES]}; got {describe(spec)}')
        in_height, in_width = spec.shape[:2]
        if method == 'area' and (height > in_height or width > in_width):
            raise ConfigError(f'area resizing shrinks images; {in_height}x{in_width} -> '
                              f"{height}x{width} enlarges: use method='bilinear'")
        super().__init__(spec, same_kind_spec(spec, (int(height), int(width)) + spec.shape[2:]))
        self.size, self.method = (int(height), int(width)), method
        compute = np.float64 if spec.dtype == np.float64 else np.float32
        self._rows = resize_weights(in_height, self.size[0], method).astype(compute)
        self._cols = resize_weights(in_width, self.size[1], method).astype(compute)
        self._bands = bands(self._rows)
        self._col_blocks = periodic(self._cols)
        # Area resizing of frames stacked vertically equals resizing each frame when every output row's
        # interval [i*s, (i+1)*s) is computed exactly (s a short binary fraction): no row then straddles
        # two frames and OpenCV's tables repeat frame after frame.
        scale = in_height / height
        self._stackable = method == 'area' and scale * height == in_height and (scale * (1 << 16)).is_integer()
        # OpenCV rounds integer-ratio area and its fixed-point paths half up, other area sums half to even.
        self._half_up = method != 'area' or (in_height % height == 0 and in_width % width == 0)

    def numpy(self, x: np.ndarray) -> np.ndarray:
        height, width = self.size
        batch, interpolation = x.shape[0], _CV2_METHODS[self.method]
        if self._stackable or batch == 1:
            # The batch as one tall image: one OpenCV call (threaded across the batch when cv2 has threads).
            tall = np.ascontiguousarray(x).reshape((batch * x.shape[1],) + x.shape[2:])
            return cv2.resize(tall, (width, batch * height), interpolation=interpolation).reshape(
                (batch,) + self.spec.shape)
        out = np.empty((batch,) + self.spec.shape, x.dtype)
        for index, frame in enumerate(x):
            out[index] = cv2.resize(frame, (width, height), interpolation=interpolation).reshape(self.spec.shape)
        return out

    def numpy_into(self, out: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
        """`numpy` writing into `out` (a C-contiguous batch of outputs), its shapes worked out once:
        for the NumPy backend's intermediate frames. None where the batch is resized frame by frame."""
        batch, (height, width) = out.shape[0], self.size
        if not (self._stackable or batch == 1):
            return None
        rest = self.input_spec.shape[2:]
        tall, size = (batch * self.input_spec.shape[0], self.input_spec.shape[1]) + rest, (width, batch * height)
        dst = out.reshape((batch * height, width) + rest)
        resize, contiguous, interpolation = cv2.resize, np.ascontiguousarray, _CV2_METHODS[self.method]

        def run(x: np.ndarray) -> np.ndarray:
            y = resize(contiguous(x).reshape(tall), size, dst=dst, interpolation=interpolation)
            return out if y is dst else y.reshape(out.shape)  # OpenCV hands back `dst` when it wrote there
        return run

    def tf(self, x: Any) -> Any:
        import tensorflow as tf
        (in_height, in_width), rest = self.input_spec.shape[:2], self.input_spec.shape[2:]
        (height, width), channels = self.size, int(np.prod(rest, dtype=np.int64))
        if self._bands is not None:
            # Rows first: each output row is a few input rows (an area weight matrix is a narrow band),
            # gathered as whole rows while still integers, then cast and summed; the columns of the
            # 2.5x smaller result in one matrix product. Far fewer operations than two dense products.
            index, weights = self._bands
            shape = (1, -1, 1, 1)
            y = tf.reshape(x, (-1, in_height, in_width, channels))
            total = None
            for k in range(len(index)):
                term = tf.cast(tf.gather(y, index[k], axis=1), weights.dtype) * weights[k].reshape(shape)
                total = term if total is None else total + term
            y = self._tf_columns(total, tf)
            y = tf.reshape(y, (-1, height, width) + rest)
            return round_to(y, self.spec.dtype, tf, half_up=self._half_up)
        y = tf.cast(x, self._rows.dtype)
        # Two large matrix products: columns on (batch * in_height, in_width[, channels]) ...
        y = self._tf_columns(tf.reshape(y, (-1, in_height, in_width, channels)), tf)
        # ... then rows on (batch, in_height, width * channels).
        y = tf.matmul(tf.constant(self._rows), tf.reshape(y, (-1, in_height, width * channels)))
        y = tf.reshape(y, (-1, height, width) + rest)
        return round_to(y, self.spec.dtype, tf, half_up=self._half_up)

    def _tf_columns(self, y: Any, tf: Any) -> Any:
        """The column pass on (batch, rows, in_width, channels): block by block where the weights repeat
        (160 -> 84 is 4 blocks of 40 -> 21: a quarter of a dense product's work), else one dense product."""
        in_width, channels = self.input_spec.shape[1], y.shape[-1]
        if self._col_blocks is not None:
            blocks, block = self._col_blocks
            size_in = block.shape[1]
            if channels == 1:
                return tf.matmul(tf.reshape(y, (-1, size_in)), tf.constant(block.T))
            return tf.matmul(tf.constant(block), tf.reshape(y, (-1, blocks, size_in, channels)))
        if channels == 1:
            return tf.matmul(tf.reshape(y, (-1, in_width)), tf.constant(self._cols.T))
        return tf.matmul(tf.constant(self._cols), tf.reshape(y, (-1, in_width, channels)))


def periodic(weights: np.ndarray) -> tuple[int, np.ndarray] | None:
    """A resize matrix as ``(blocks, block)`` where it is `blocks` copies of one smaller block along its
    diagonal (the input and output sizes share a factor and the weights repeat), else None.

    >>> blocks, block = periodic(resize_weights(160, 84, 'area'))
    >>> blocks, block.shape
    (4, (21, 40))
    >>> periodic(resize_weights(7, 3, 'area')) is None
    True
    """
    size_out, size_in = weights.shape
    blocks = math.gcd(size_in, size_out)
    if blocks == 1:
        return None
    block = weights[:size_out // blocks, :size_in // blocks]
    expected = np.kron(np.eye(blocks, dtype=weights.dtype), block)
    return (blocks, block) if np.allclose(weights, expected, rtol=0, atol=1e-9) else None


def bands(weights: np.ndarray, limit: int = 8) -> tuple[np.ndarray, np.ndarray] | None:
    """A (size_out, size_in) weight matrix as `k` (index, weight) pairs per output, k <= `limit`:
    ``(index (k, size_out) int32, weight (k, size_out))``, sources in increasing order, padded with
    zero weights; None where some output reads more than `limit` inputs.

    >>> index, weight = bands(resize_weights(5, 2, 'area'))
    >>> index.tolist(), weight.tolist()
    ([[0, 2], [1, 3], [2, 4]], [[0.4, 0.2], [0.4, 0.4], [0.2, 0.4]])
    """
    rows = [np.flatnonzero(row) for row in weights]
    width = max(len(row) for row in rows)
    if width > limit:
        return None
    index = np.zeros((width, len(rows)), np.int32)
    weight = np.zeros((width, len(rows)), weights.dtype)
    for i, sources in enumerate(rows):
        index[:len(sources), i] = sources
        index[len(sources):, i] = sources[-1]
        weight[:len(sources), i] = weights[i, sources]
    return index, weight


class Grayscale(Preprocessor):
    """RGB (..., 3) to gray: ``y = w_r * r + w_g * g + w_b * b``.

    Default weights (0.299, 0.587, 0.114) equal ``cv2.cvtColor(RGB2GRAY)``,
    including its 15-bit fixed-point rounding on uint8
    (``(9798 r + 19235 g + 3735 b + 16384) >> 15``). Output spec: (..., 1)
    with ``keep_dim=True`` (else the channel axis is dropped), dtype and
    bounds kept; integer inputs with other weights are rounded half to
    even and saturated.
    """

    type = 'grayscale'

    def __init__(self, spec: Spec, weights: Sequence[float] = DEFAULT_GRAY, keep_dim: bool = True):
        require_numeric(spec, 'an RGB array (..., 3)')
        if not spec.shape or spec.shape[-1] != 3:
            raise ConfigError(f'expects an RGB array (..., 3); got {describe(spec)}')
        if not isinstance(weights, (list, tuple)) or len(weights) != 3:
            raise ConfigError(f'weights: expected 3 numbers (r, g, b); received {weights!r:.80}')
        weights = tuple(number(f'weights[{i}]', w, minimum=0) for i, w in enumerate(weights))
        keep_dim = boolean('keep_dim', keep_dim)
        if abs(sum(weights) - 1.0) > 1e-6:
            raise ConfigError(f'weights: expected non-negative numbers summing to 1; received {weights!r}')
        shape = spec.shape[:-1] + ((1,) if keep_dim else ())
        super().__init__(spec, same_kind_spec(spec, shape))
        self.weights, self.keep_dim = weights, bool(keep_dim)
        self._opencv = weights == DEFAULT_GRAY and spec.dtype.type in (np.uint8, np.uint16, np.float32)

    def numpy(self, x: np.ndarray) -> np.ndarray:
        batch = x.shape[0]
        if self._opencv:
            flat = x.reshape(-1, x.shape[-2] if x.ndim > 2 else 1, 3)
            y = cv2.cvtColor(np.ascontiguousarray(flat), cv2.COLOR_RGB2GRAY)
        else:
            y = round_to(x.astype(np.float64) @ np.array(self.weights), self.spec.dtype)
        return y.reshape((batch,) + self.spec.shape)

    def numpy_into(self, out: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
        """`numpy` writing into `out` (a C-contiguous batch of outputs), its shapes worked out once:
        for the NumPy backend's intermediate frames. None off OpenCV's path."""
        if not self._opencv or len(self.input_spec.shape) != 3:
            return None
        height, width, _ = self.input_spec.shape
        flat, dst = (out.shape[0] * height, width, 3), out.reshape(out.shape[0] * height, width)
        convert, contiguous, code = cv2.cvtColor, np.ascontiguousarray, cv2.COLOR_RGB2GRAY

        def run(x: np.ndarray) -> np.ndarray:
            y = convert(contiguous(x).reshape(flat), code, dst=dst)
            return out if y is dst else y.reshape(out.shape)  # OpenCV hands back `dst` when it wrote there
        return run

    def tf(self, x: Any) -> Any:
        import tensorflow as tf
        if self.spec.dtype == np.uint8 and self.weights == DEFAULT_GRAY:
            x = tf.cast(x, tf.int32)  # channel slices, not a reduction over a short axis: much faster
            y = sum(x[..., c] * _GRAY_FIXED[c] for c in range(3)) + (1 << (_GRAY_SHIFT - 1))
            y = tf.cast(tf.bitwise.right_shift(y, _GRAY_SHIFT), tf.uint8)
        else:
            compute = tf.float64 if self.spec.dtype == np.float64 else tf.float32
            x = tf.cast(x, compute)
            y = round_to(sum(x[..., c] * self.weights[c] for c in range(3)), self.spec.dtype, tf)
        return y[..., None] if self.keep_dim else y


class Crop(Preprocessor):
    """Keeps ``x[top:top + height, left:left + width]`` of an image.

    Output spec: shape (height, width, ...), dtype and bounds kept.
    """

    type = 'crop'

    def __init__(self, spec: Spec, top: int, left: int, height: int, width: int):
        require_numeric(spec, 'an array of rank 2 or more (height, width, ...)')
        if len(spec.shape) < 2:
            raise ConfigError(f'expects an array of rank 2 or more (height, width, ...); got {describe(spec)}')
        in_height, in_width = spec.shape[:2]
        top, left = integer('top', top, minimum=0), integer('left', left, minimum=0)
        height, width = integer('height', height, minimum=1), integer('width', width, minimum=1)
        if top + height > in_height or left + width > in_width:
            raise ConfigError(f'the box top={top}, left={left}, height={height}, width={width} does not fit '
                              f'inside {in_height}x{in_width}; got {describe(spec)}')
        super().__init__(spec, same_kind_spec(spec, (height, width) + spec.shape[2:]))
        self.box = (int(top), int(left), int(height), int(width))

    def numpy(self, x: np.ndarray) -> np.ndarray:
        top, left, height, width = self.box
        return x[:, top:top + height, left:left + width].copy()

    def tf(self, x: Any) -> Any:
        top, left, height, width = self.box
        return x[:, top:top + height, left:left + width]


class AreaOfGray:
    """The TF backend's `grayscale` then area `image_resize` on uint8 frames, without XLA.

    TF's own area kernel (equal to OpenCV's ``INTER_AREA``) reads the RGB
    frames as uint8 in one pass; the gray weights then apply to the
    smaller result, rounded once as `image_resize` rounds. Used at
    non-integer ratios only (210x160 -> 84x84), where the steps apart are
    within 1 of OpenCV too, not exact. Stock TF runs
    each elementwise op of the exact fixed-point gray as a separate pass over
    full frames, several times slower than this (XLA fuses them instead, so
    the backend keeps the two steps apart there). The gray is averaged
    before it is rounded, so a pixel may differ by 1 from the two steps
    apart (about 1% of pixels on Atari frames); float input gives the same
    values.

    >>> import tensorflow as tf
    >>> from modalbridge.bridges.specs import from_dict
    >>> spec = from_dict(dict(type='int', shape=(4, 4, 3), min_value=0, max_value=255, dtype='uint8'), name='x')
    >>> gray = Grayscale(spec)
    >>> fused = AreaOfGray.fuse(gray, ImageResize(gray.spec, height=3, width=3))
    >>> fused.tf(tf.fill((1, 4, 4, 3), tf.constant(200, tf.uint8))).numpy()[0, 0, :, 0].tolist()
    [200, 200, 200]
    >>> AreaOfGray.fuse(gray, ImageResize(gray.spec, height=2, width=2)) is None  # 4 -> 2: exact apart
    True
    """

    def __init__(self, grayscale: Grayscale, resize: ImageResize):
        self.grayscale, self.resize = grayscale, resize

    @classmethod
    def fuse(cls, first: Preprocessor, second: Preprocessor) -> AreaOfGray | None:
        """The two steps as one, where they are `grayscale` then area `image_resize` on uint8 frames
        at a non-integer ratio (at integer ratios the two steps apart equal OpenCV exactly); else None."""
        if (type(first) is Grayscale and type(second) is ImageResize and second.method == 'area'
                and not second._half_up and first.input_spec.dtype == np.uint8
                and len(first.input_spec.shape) == 3):
            return cls(first, second)
        return None

    def tf(self, x: Any) -> Any:
        import tensorflow as tf
        y = tf.image.resize(x, self.resize.size, method='area')  # float32, exact box averages
        weights = self.grayscale.weights
        y = y[..., 0] * weights[0] + y[..., 1] * weights[1] + y[..., 2] * weights[2]
        y = tf.reshape(y, (-1,) + self.resize.spec.shape)
        return round_to(y, self.resize.spec.dtype, tf, half_up=self.resize._half_up)
