"""A faithful fake of DeepMind Lab's Python API (`deepmind_lab.Lab`), for tests.

Written from the documented API (docs/users/python_api.md of
deepmind/lab): `Lab(level, observations, config, renderer)`,
`reset(episode=-1, seed=None)`, `step(action, num_steps=1) -> reward`
with `action` an np.intc array of the 7 components of `action_spec()`,
`observations()` (a dict; raises RuntimeError once the episode is over),
`is_running()`, `num_steps()`, `observation_spec()` / `action_spec()`
(lists of dicts), `close()`. The level is a 5x5 maze with an apple to
reach; the instruction names it. NOT DeepMind Lab: a stand-in that keeps
its behaviour (including raising after the end) for the bridge's tests.
"""

import numpy as np

ACTIONS = [('LOOK_LEFT_RIGHT_PIXELS_PER_FRAME', -512, 512), ('LOOK_DOWN_UP_PIXELS_PER_FRAME', -512, 512),
           ('STRAFE_LEFT_RIGHT', -1, 1), ('MOVE_BACK_FORWARD', -1, 1), ('FIRE', 0, 1), ('JUMP', 0, 1),
           ('CROUCH', 0, 1)]
OBSERVATIONS = {'RGB_INTERLEAVED': ((40, 40, 3), np.uint8), 'RGBD': ((4, 40, 40), np.uint8),
                'INSTR': ((), str), 'DEBUG.POS.TRANS': ((3,), np.float64)}


class Lab:
    def __init__(self, level, observations, config=None, renderer='software', level_cache=None):
        unknown = [name for name in observations if name not in OBSERVATIONS]
        if unknown:
            raise ValueError(f'Unknown observation: {unknown[0]}')
        self.level, self.requested = level, list(observations)
        self.episode_length = int((config or {}).get('episode_length_frames', 60))
        self._running, self._frames, self.received = False, 0, []

    def observation_spec(self):
        return [dict(name=name, shape=shape, dtype=dtype) for name, (shape, dtype) in OBSERVATIONS.items()]

    def action_spec(self):
        return [dict(name=name, min=low, max=high) for name, low, high in ACTIONS]

    def reset(self, episode=-1, seed=None):
        rng = np.random.default_rng(seed)
        self.position = rng.integers(0, 5, 2)
        self.goal = rng.integers(0, 5, 2)
        while np.array_equal(self.goal, self.position):
            self.goal = rng.integers(0, 5, 2)
        self.colour = ['red', 'green'][int(rng.integers(2))]
        self._running, self._frames = True, 0
        return True

    def is_running(self):
        return self._running

    def num_steps(self):
        return self._frames

    def step(self, action, num_steps=1):
        if not isinstance(action, np.ndarray) or action.dtype != np.intc or action.shape != (len(ACTIONS),):
            raise TypeError('action must be a numpy array of 7 intc values')
        if not self._running:
            raise RuntimeError('Environment is not running')
        self.received.append(action.copy())
        reward = 0.0
        for _ in range(num_steps):
            self._frames += 1
            self.position = np.clip(self.position + [int(action[3]), int(action[2])], 0, 4)
            if np.array_equal(self.position, self.goal):
                reward, self._running = 1.0, False
                break
            if self._frames >= self.episode_length:
                self._running = False
                break
        return reward

    def observations(self):
        if not self._running:
            raise RuntimeError('Environment is not running; observations are not available')
        image = np.zeros((40, 40, 3), np.uint8)
        image[self.goal[0] * 8:(self.goal[0] + 1) * 8, self.goal[1] * 8:(self.goal[1] + 1) * 8] = \
            (200, 0, 0) if self.colour == 'red' else (0, 200, 0)
        image[self.position[0] * 8 + 2:self.position[0] * 8 + 6, self.position[1] * 8 + 2:self.position[1] * 8 + 6] = 255
        everything = {'RGB_INTERLEAVED': image, 'RGBD': np.zeros((4, 40, 40), np.uint8),
                      'INSTR': f'get the {self.colour} apple',
                      'DEBUG.POS.TRANS': np.array([*self.position, 0.0], np.float64)}
        return {name: everything[name] for name in self.requested}

    def close(self):
        self._running = False
