"""A faithful fake of an OpenAI Universe environment's interface, for tests.

Universe (archived) drove remote VNC games with lists of events:
``('KeyEvent', key, down)`` and ``('PointerEvent', x, y, buttonmask)``,
and returned observations ``{'vision': HxWx3 uint8, 'text': [str, ...]}``
(text usually empty, sometimes carrying messages). This single-env stand-in
keeps that interface: `reset() -> observation`, `step(events) -> (observation,
reward, done, info)`. The game: a dot moved by held arrow keys; clicking on
the target cell scores. NOT Universe.
"""

import numpy as np

KEYS = ('ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'space')


class FakeUniverseEnv:
    def __init__(self, height=32, width=48, episode_length=30):
        self.height, self.width, self.episode_length = height, width, episode_length
        self.log = []

    def reset(self):
        self.t, self.held, self.dot = 0, set(), np.array([self.height // 2, self.width // 2])
        self.target = (int(self.height * 0.875), int(self.width * 0.25))
        return self._observation(['click the square'])

    def step(self, events):
        for event in events:
            if event[0] == 'KeyEvent':
                _, key, down = event
                if key not in KEYS or not isinstance(down, bool):
                    raise ValueError(f'bad KeyEvent {event!r}')
                if down:
                    self.held.add(key)
                else:
                    self.held.discard(key)
            elif event[0] == 'PointerEvent':
                _, x, y, mask = event
                if not (0 <= x < self.width and 0 <= y < self.height and mask in (0, 1)):
                    raise ValueError(f'bad PointerEvent {event!r}')
            else:
                raise ValueError(f'unknown event {event!r}')
        self.log.append(list(events))
        self.t += 1
        moves = {'ArrowLeft': (0, -1), 'ArrowRight': (0, 1), 'ArrowUp': (-1, 0), 'ArrowDown': (1, 0)}
        for key in self.held:
            if key in moves:
                self.dot = np.clip(self.dot + moves[key], 0, [self.height - 1, self.width - 1])
        reward = 0.0
        clicks = [e for e in events if e[0] == 'PointerEvent' and e[3] == 1]
        if any(abs(e[2] - self.target[0]) < 4 and abs(e[1] - self.target[1]) < 4 for e in clicks):
            reward = 1.0
        done = self.t >= self.episode_length
        return self._observation(['score!'] if reward else []), reward, done, {}

    def _observation(self, text):
        vision = np.zeros((self.height, self.width, 3), np.uint8)
        vision[self.target[0] - 2:self.target[0] + 2, self.target[1] - 2:self.target[1] + 2] = (0, 0, 255)
        vision[self.dot[0], self.dot[1]] = 255
        return {'vision': vision, 'text': list(text)}
