"""`CaptionRoom`: go to the object the caption names (a built-in multimodal env).

A small room (a `size` x `size` grid, drawn at `cell` pixels per cell) holds
K = `num_objects` objects, each a distinct pair of a colour (red, green,
blue, yellow) and a shape (ball, box, key drawn as a cross, triangle),
and the agent (a white square). The caption names one object present:
``"go to the blue triangle"``. The agent moves one cell per step
(``move``: 0 up, 1 right, 2 down, 3 left). Stepping onto an object ends the
episode (TERMINATED): reward ``1 - 0.5 * t / max_steps`` if it is the named
one, 0 otherwise. After `max_steps` steps the episode is TRUNCATED.

The target is drawn uniformly among the K objects, independently of the
layout, and every object ends the episode, so an agent that ignores the
caption reaches the target in at most 1/K of the episodes (1/3 with the
default K = 3). With ``swap_caption=True`` the caption names another object
of the room while the reward stays with the (unnamed) target: an agent that
reads the caption then succeeds less than 1/K of the time.

``shaping=c`` adds ``c * (d_before - d_after)`` to each step's reward, d the
number of steps from the agent to the named object: potential-based
shaping (Ng et al., 1999), which keeps the optimal policy and gives a
learning signal on every step (it also depends on the caption's object).

The image is egocentric by default (``view='egocentric'``): a window of
``2 * size - 1`` cells centred on the agent, walls outside the room drawn
grey, so directions to objects read the same wherever the agent stands
(45x45 pixels by default); ``view='room'`` shows the whole room instead.
`render()` always shows the whole room.

With ``memory=True`` (registered as ``modalbridge/CaptionRoomMemory-v0``)
an episode starts with a cue: the first observation (the one `reset`
returns) holds the caption over a black image, the next `delay`
observations are black with an empty caption, and the actions taken on
these 1 + `delay` observations change nothing (no move, reward 0, not
counted in `max_steps`); then the room appears, the caption stays empty,
and the episode goes on as above. The agent must carry the caption from the
first observation to the room. A memoryless agent (whose action depends on
the current observation only) cannot beat the caption-blind rate 1/K: the
only observation that depends on the target comes before anything it does
can have an effect, and from the room on, what it sees depends on the layout
and on its own actions, never on the target; so which object it reaches
first is independent of the target, which is drawn uniformly among the K
objects, independently of the layout, and success is at most 1/K (1/3 with
the registered K = 3). (A stack of the last 2 + `delay` frames is memory
too; so is the shaping reward, for a learner, not for the policy.)

Layouts, colours, shapes and the target are random per episode and follow
the `reset` seed. ``info['success']`` says whether the target was reached.

    env = gymnasium.make('modalbridge/CaptionRoom-v0', render_mode='rgb_array')
"""

from __future__ import annotations

import itertools
from typing import Any

import cv2
import gymnasium
import numpy as np
from gymnasium import spaces

from modalbridge.bridges import arguments
from modalbridge.bridges.errors import ConfigError

COLOURS = {'red': (220, 40, 40), 'green': (40, 200, 60), 'blue': (50, 90, 230), 'yellow': (230, 210, 40)}
SHAPES = ('ball', 'box', 'key', 'triangle')
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left (row, column)
CHARSET = 'abcdefghijklmnopqrstuvwxyz '
CAPTION = 'go to the {colour} {shape}'
VIEWS = ('egocentric', 'room')
WALL = 90


def draw_shape(image: np.ndarray, shape: str, colour: tuple[int, int, int], top: int, left: int, cell: int) -> None:
    """Draws one object into its cell (in place)."""
    pad = max(1, cell // 6)
    low, high = pad, cell - 1 - pad
    view = image[top:top + cell, left:left + cell]
    if shape == 'box':
        view[low:high + 1, low:high + 1] = colour
    elif shape == 'ball':
        cv2.circle(view, (cell // 2, cell // 2), cell // 2 - pad, colour, -1, lineType=cv2.LINE_8)
    elif shape == 'triangle':
        points = np.array([[cell // 2, low], [high, high], [low, high]], np.int32)
        cv2.fillConvexPoly(view, points, colour)
    else:  # key: a diagonal bar
        cv2.line(view, (low, high), (high, low), colour, max(1, cell // 6), lineType=cv2.LINE_8)


class CaptionRoom(gymnasium.Env):
    """See the module docstring. Observation: ``{'image': uint8 (H, W, 3), 'caption': str}``;
    action: ``{'move': Discrete(4)}``."""

    metadata = {'render_modes': ['rgb_array'], 'render_fps': 4}

    def __init__(self, size: int = 5, cell: int = 5, num_objects: int = 3, max_steps: int = 20,
                 swap_caption: bool = False, shaping: float = 0.0, view: str = 'egocentric',
                 render_mode: str | None = None, memory: bool = False, delay: int | None = None):
        size = arguments.integer('CaptionRoom: size', size, minimum=3, maximum=16)
        cell = arguments.integer('CaptionRoom: cell', cell, minimum=5)
        num_objects = arguments.integer('CaptionRoom: num_objects', num_objects, minimum=2,
                                        maximum=min(len(COLOURS) * len(SHAPES), size * size - 1))
        max_steps = arguments.integer('CaptionRoom: max_steps', max_steps, minimum=1)
        swap_caption = arguments.boolean('CaptionRoom: swap_caption', swap_caption)
        shaping = arguments.number('CaptionRoom: shaping', shaping)
        view = arguments.choice('CaptionRoom: view', view, VIEWS)
        self.memory = arguments.boolean('CaptionRoom: memory', memory)
        if delay is not None and not self.memory:
            raise ConfigError(f'CaptionRoom: delay: applies only with memory=True (the cue phase); received {delay!r}')
        self.delay = arguments.integer('CaptionRoom: delay', 1 if delay is None else delay, minimum=0) \
            if self.memory else 0
        render_mode = arguments.choice('CaptionRoom: render_mode', render_mode, (None, 'rgb_array'))
        self.size, self.cell, self.num_objects, self.max_steps = size, cell, num_objects, max_steps
        self.swap_caption, self.shaping, self.render_mode = swap_caption, float(shaping), render_mode
        self.view = view
        pixels = (2 * size - 1 if view == 'egocentric' else size) * cell
        self._image_shape = (pixels, pixels, 3)
        self.observation_space = spaces.Dict({
            'image': spaces.Box(0, 255, (pixels, pixels, 3), np.uint8),
            'caption': spaces.Text(max_length=40, min_length=0 if self.memory else 1, charset=CHARSET)})
        self.action_space = spaces.Dict({'move': spaces.Discrete(4)})
        self._kinds = list(itertools.product(COLOURS, SHAPES))

    @property
    def vocabulary(self) -> list[str]:
        """Every word a caption can hold."""
        return ['go', 'to', 'the', *COLOURS, *SHAPES]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        cells = rng.choice(self.size * self.size, size=self.num_objects + 1, replace=False)
        self.agent = divmod(int(cells[0]), self.size)
        kinds = rng.choice(len(self._kinds), size=self.num_objects, replace=False)
        self.objects = [(divmod(int(c), self.size), self._kinds[int(k)]) for c, k in zip(cells[1:], kinds)]
        self.target = int(rng.integers(self.num_objects))
        named = self.target
        if self.swap_caption:
            named = (self.target + 1 + int(rng.integers(self.num_objects - 1))) % self.num_objects
        colour, shape = self.objects[named][1]
        self.caption = CAPTION.format(colour=colour, shape=shape)
        self.named, self.t = named, 0
        self.cue = 1 + self.delay if self.memory else 0  # observations left before the room appears
        self._first = True
        self._background = self._draw_objects()
        if self.view == 'egocentric':
            self._canvas = self._wall_canvas()
        return self._observation(), {}

    def step(self, action: Any):
        move = int(action['move'] if isinstance(action, dict) else action)
        if not 0 <= move < 4:
            raise ValueError(f'move must be 0..3; received {move}')
        self._first = False
        if self.cue:  # the cue phase: the action changes nothing
            self.cue -= 1
            return self._observation(), 0.0, False, False, dict(success=False, reached=None)
        before = self._distance()
        row, column = self.agent
        row = min(max(row + MOVES[move][0], 0), self.size - 1)
        column = min(max(column + MOVES[move][1], 0), self.size - 1)
        self.agent, self.t = (row, column), self.t + 1
        reached = next((index for index, (where, _) in enumerate(self.objects) if where == self.agent), None)
        success = reached == self.target
        reward = 1.0 - 0.5 * self.t / self.max_steps if success else 0.0
        reward += self.shaping * (before - self._distance())
        terminated = reached is not None
        truncated = not terminated and self.t >= self.max_steps
        info = dict(success=success, reached=None if reached is None else
                    CAPTION.format(colour=self.objects[reached][1][0], shape=self.objects[reached][1][1])[10:])
        return self._observation(), reward, terminated, truncated, info

    def _distance(self) -> int:
        """Steps from the agent to the named object (what shaping rewards reducing)."""
        (row, column), (goal_row, goal_column) = self.agent, self.objects[self.named][0]
        return abs(row - goal_row) + abs(column - goal_column)

    def _draw_objects(self) -> np.ndarray:
        cell, pixels = self.cell, self.size * self.cell
        image = np.full((pixels, pixels, 3), 30, np.uint8)
        image[::cell, :] = 60  # grid lines
        image[:, ::cell] = 60
        for (row, column), (colour, shape) in self.objects:
            draw_shape(image, shape, COLOURS[colour], row * cell, column * cell, cell)
        return image

    def _observation(self) -> dict[str, Any]:
        caption = self.caption if self._first or not self.memory else ''
        if self.cue:
            return {'image': np.zeros(self._image_shape, np.uint8), 'caption': caption}
        if self.view == 'egocentric':
            # the room inside a wall margin (drawn once per episode), cut so that the agent's cell is the
            # centre cell: one copy of the window, not a padded copy of the whole room per step
            (row, column), width = self.agent, (2 * self.size - 1) * self.cell
            image = self._canvas[row * self.cell:row * self.cell + width,
                                 column * self.cell:column * self.cell + width].copy()
            self._mark(image, self.size - 1, self.size - 1)
        else:
            image = self._room()
        return {'image': image, 'caption': caption}

    def _room(self) -> np.ndarray:
        image = self._background.copy()
        self._mark(image, *self.agent)
        return image

    def _mark(self, image: np.ndarray, row: int, column: int) -> None:
        """Draws the agent into the cell (row, column) of `image` (in place)."""
        pad = max(1, self.cell // 4)
        image[row * self.cell + pad:(row + 1) * self.cell - pad,
              column * self.cell + pad:(column + 1) * self.cell - pad] = 255

    def _wall_canvas(self) -> np.ndarray:
        margin, pixels = (self.size - 1) * self.cell, self.size * self.cell
        canvas = np.full((pixels + 2 * margin, pixels + 2 * margin, 3), WALL, np.uint8)
        canvas[margin:margin + pixels, margin:margin + pixels] = self._background
        return canvas

    def render(self) -> np.ndarray | None:
        if self.render_mode != 'rgb_array':
            return None
        return cv2.resize(self._room(), None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
