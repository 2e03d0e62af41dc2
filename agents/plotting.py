"""A learning-curve PNG drawn with OpenCV (already a dependency; matplotlib is not).

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), 'curve.png')
>>> learning_curve(path, [10, 20, 30], [1.0, 3.0, 2.0], [(10, 1.0), (20, 2.0), (30, 2.0)]) == path
True
"""

from __future__ import annotations

import os
from typing import Sequence

import cv2
import numpy as np

from modalbridge.bridges.errors import ConfigError

WIDTH, HEIGHT = 800, 480
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 40, 50
FONT = cv2.FONT_HERSHEY_SIMPLEX


def learning_curve(path: str | os.PathLike, ends: Sequence[int], returns: Sequence[float],
                   curve: Sequence[tuple[int, float]], title: str = 'learning curve') -> str:
    """Episode returns (grey dots) and the mean of the last 10 (blue line) over timesteps, as a PNG."""
    path = os.fspath(path)
    if not path.lower().endswith('.png'):
        raise ConfigError(f'plot: the path must end with .png; received {path!r}')
    if not returns:
        raise ConfigError('plot: there are no finished episodes to plot')
    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    xs = np.asarray(list(ends) + [c[0] for c in curve], np.float64)
    ys = np.asarray(list(returns) + [c[1] for c in curve], np.float64)
    x_low, x_high = 0.0, max(float(xs.max()), 1.0)
    y_low, y_high = float(ys.min()), float(ys.max())
    if y_high - y_low < 1e-9:
        y_low, y_high = y_low - 1.0, y_high + 1.0

    def pixel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        px = LEFT + (x - x_low) / (x_high - x_low) * (WIDTH - LEFT - RIGHT)
        py = HEIGHT - BOTTOM - (y - y_low) / (y_high - y_low) * (HEIGHT - TOP - BOTTOM)
        return np.stack([px, py], axis=-1).round().astype(np.int32)

    for fraction in np.linspace(0, 1, 5):  # grid and tick labels
        y = y_low + fraction * (y_high - y_low)
        (_, row), = pixel(np.array([x_low]), np.array([y]))
        cv2.line(image, (LEFT, int(row)), (WIDTH - RIGHT, int(row)), (230, 230, 230), 1)
        cv2.putText(image, f'{y:.4g}', (5, int(row) + 5), FONT, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
        x = x_low + fraction * (x_high - x_low)
        (column, _), = pixel(np.array([x]), np.array([y_low]))
        cv2.putText(image, f'{x:.3g}', (int(column) - 20, HEIGHT - BOTTOM + 20), FONT, 0.45, (60, 60, 60), 1,
                    cv2.LINE_AA)
    cv2.rectangle(image, (LEFT, TOP), (WIDTH - RIGHT, HEIGHT - BOTTOM), (0, 0, 0), 1)
    for point in pixel(np.asarray(ends, np.float64), np.asarray(returns, np.float64)):
        cv2.circle(image, (int(point[0]), int(point[1])), 2, (170, 170, 170), -1)
    if curve:
        points = pixel(np.asarray([c[0] for c in curve], np.float64), np.asarray([c[1] for c in curve], np.float64))
        cv2.polylines(image, [points.reshape(-1, 1, 2)], False, (200, 90, 20), 2, cv2.LINE_AA)
    cv2.putText(image, title, (LEFT, 25), FONT, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, 'timesteps', (WIDTH // 2 - 40, HEIGHT - 10), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, 'return (dots: episodes, line: mean of last 10)', (LEFT + 300, 25), FONT, 0.45,
                (200, 90, 20), 1, cv2.LINE_AA)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ConfigError(f'plot: the directory {parent!r} does not exist')
    if not cv2.imwrite(path, image):
        raise ConfigError(f'plot: OpenCV could not write {path!r}')
    return path
