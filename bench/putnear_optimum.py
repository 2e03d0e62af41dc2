"""The best mean reward any agent can reach on MiniGrid-PutNear-6x6-N2-v0: a planner that sees the room.

    python bench/putnear_optimum.py [--episodes 2000] [--seed 0]

PutNear's reward is ``1 - 0.9 * steps / 30`` when the named object is
dropped beside (8-neighbour of) the target object, so at 100% success the
mean reward is set by the episode lengths alone. This breadth-first search
over (position, direction, carried?, object cell) finds each episode's
shortest successful action sequence with the whole room known (each plan
replayed in the environment, which must reward it): its mean
reward bounds from above what any agent reaches, one with minigrid's 7x7
egocentric view (which cannot see behind it) included. It also counts the
episodes whose first view misses one of the two objects. Writes
bench/results/putnear_optimum.json.
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:] = [path for path in sys.path if Path(path or '.').resolve() != HERE]  # bench/minigrid.py is not minigrid
import gymnasium  # noqa: E402
import minigrid  # noqa: E402, F401 - registers the MiniGrid-* ids

sys.path.insert(0, str(HERE))
from common import write  # noqa: E402

ENV = 'MiniGrid-PutNear-6x6-N2-v0'
DIRECTIONS = ((1, 0), (0, 1), (-1, 0), (0, -1))  # minigrid's agent_dir: right, down, left, up
OBJECTS = (5, 6, 7)  # minigrid's OBJECT_TO_IDX: key, ball, box
LEFT, RIGHT, FORWARD, PICKUP, DROP = 0, 1, 2, 3, 4  # minigrid's Actions


def shortest(env) -> list[int]:
    """The shortest successful episode's actions from the current state of `env` (unwrapped, just reset)."""
    grid, moved, target = env.grid, tuple(env.move_pos), tuple(env.target_pos)
    blocking = {(x, y) for x in range(env.width) for y in range(env.height)
                if grid.get(x, y) is not None and (x, y) != moved}  # walls and the other object never move
    start = (tuple(env.agent_pos), int(env.agent_dir), moved)  # the moved object's cell, None once carried
    parent: dict = {start: None}  # state -> (previous state, action)
    queue = deque([start])
    while queue:
        state = queue.popleft()
        position, direction, cell = state
        front = (position[0] + DIRECTIONS[direction][0], position[1] + DIRECTIONS[direction][1])
        free = front not in blocking and front != cell
        if cell is None and free and max(abs(front[0] - target[0]), abs(front[1] - target[1])) <= 1:
            actions = [DROP]  # drop it there: success
            while parent[state] is not None:
                state, action = parent[state]
                actions.append(action)
            return actions[::-1]
        following = [((position, (direction - 1) % 4, cell), LEFT), ((position, (direction + 1) % 4, cell), RIGHT)]
        if free:
            following.append(((front, direction, cell), FORWARD))
        if front == cell:
            following.append(((position, direction, None), PICKUP))
        for successor, action in following:
            if successor not in parent:
                parent[successor] = (state, action)
                queue.append(successor)
    raise RuntimeError('no successful sequence')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--episodes', type=int, default=2000)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    env = gymnasium.make(ENV).unwrapped
    lengths, hidden = [], 0
    for seed in range(args.seed, args.seed + args.episodes):
        observation, _ = env.reset(seed=seed)
        hidden += int(np.isin(observation['image'][..., 0], OBJECTS).sum() < 2)
        plan = shortest(env)
        rewards = [env.step(action)[1] for action in plan]  # replayed: the plan must succeed, in that many steps
        if rewards[-1] <= 0 or env.step_count != len(plan):
            raise RuntimeError(f'seed {seed}: the plan {plan} did not succeed')
        lengths.append(len(plan))
    lengths_ = np.asarray(lengths, float)
    row = dict(env=ENV, episodes=args.episodes, seeds=f'{args.seed}..{args.seed + args.episodes - 1}',
               optimal_mean_length=round(float(lengths_.mean()), 3),
               optimal_mean_reward=round(float(np.mean(1 - 0.9 * lengths_ / env.max_steps)), 4),
               max_steps=env.max_steps, first_view_misses_an_object=round(hidden / args.episodes, 3),
               length_for_mean_reward_0_80=round(0.2 / 0.9 * env.max_steps, 3))
    print(row)
    print(write('putnear_optimum', [row], note='full-information shortest episodes (a planner that sees the '
                                               'whole room): an upper bound on any agent\'s mean reward'))


if __name__ == '__main__':
    main()
