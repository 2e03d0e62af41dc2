import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from modalbridge.bridges import GymBridge, Terminal, check
from modalbridge.bridges import ConfigError
from modalbridge.envs import ID, CaptionRoom
from modalbridge.envs.caption_room import CAPTION, MOVES


def path_to(env, goal):
    """Moves (row first, then column) from the agent to `goal`."""
    (row, column), (goal_row, goal_column) = env.agent, goal
    moves = [2 if goal_row > row else 0] * abs(goal_row - row)
    moves += [1 if goal_column > column else 3] * abs(goal_column - column)
    return moves


def clear_room(env, target_index):
    """Puts the agent next to nothing: objects only where a straight path to the target does not cross them."""
    goal = env.objects[target_index][0]
    others = [where for index, (where, _) in enumerate(env.objects) if index != target_index]
    for start in np.ndindex(env.size, env.size):
        if start == goal or start in others:
            continue
        env.agent = start
        cells, (row, column) = [], start
        for move in path_to(env, goal):
            row, column = row + MOVES[move][0], column + MOVES[move][1]
            cells.append((row, column))
        if not any(cell in others for cell in cells[:-1]):
            return path_to(env, goal)
    pytest.skip('no clear path in this layout')


def test_registered_and_passes_gymnasium_and_modalbridge_checks():
    env = gymnasium.make(ID, render_mode='rgb_array')
    check_env(env.unwrapped)
    assert check(GymBridge(ID)).ok


def test_specs_through_the_bridge():
    env = GymBridge(ID)
    assert env.states['image'].shape == (45, 45, 3) and env.states['image'].dtype == np.uint8
    assert sorted(env.states) == ['caption', 'image']
    assert env.actions['move'].num_values == 4


@pytest.mark.parametrize('seed', range(20))
def test_the_caption_always_names_an_object_present(seed):
    env = CaptionRoom()
    observation, _ = env.reset(seed=seed)
    named = [CAPTION.format(colour=c, shape=s) for _, (c, s) in env.objects]
    assert observation['caption'] in named
    assert observation['caption'] == named[env.target]
    assert len({kind for _, kind in env.objects}) == env.num_objects  # distinct (colour, shape) pairs


def test_reward_only_on_the_named_object():
    env = CaptionRoom()
    env.reset(seed=3)
    for _ in range(env.max_steps):
        pass
    moves = clear_room(env, env.target)
    for move in moves:
        _, reward, terminated, truncated, info = env.step({'move': move})
    assert terminated and info['success'] and reward == pytest.approx(1 - 0.5 * len(moves) / env.max_steps)
    env.reset(seed=3)
    wrong = (env.target + 1) % env.num_objects
    for move in clear_room(env, wrong):
        _, reward, terminated, truncated, info = env.step({'move': move})
    assert terminated and not info['success'] and reward == 0.0


def test_swapped_captions_name_another_object_and_reward_stays_with_the_target():
    env = CaptionRoom(swap_caption=True)
    for seed in range(20):
        observation, _ = env.reset(seed=seed)
        target = env.objects[env.target][1]
        assert observation['caption'] != CAPTION.format(colour=target[0], shape=target[1])
        assert observation['caption'] in [CAPTION.format(colour=c, shape=s) for _, (c, s) in env.objects]


def test_seeding_reproduces_layouts_and_differs_across_seeds():
    first, second = CaptionRoom(), CaptionRoom()
    a, _ = first.reset(seed=7)
    b, _ = second.reset(seed=7)
    assert np.array_equal(a['image'], b['image']) and a['caption'] == b['caption']
    layouts = {CaptionRoom().reset(seed=seed)[0]['image'].tobytes() for seed in range(10)}
    assert len(layouts) == 10


def test_step_limit_truncates():
    env = GymBridge(ID)
    env.reset(seed=0)
    inner = env.env.unwrapped
    inner.objects = [((0, 0), inner.objects[0][1]), ((0, 1), inner.objects[1][1]), ((0, 2), inner.objects[2][1])]
    inner.agent = (4, 4)
    terminals = []
    for step in range(inner.max_steps):
        terminals.append(env.execute({'move': 2 if step % 2 else 1}).terminal)  # bounce in the corner
    assert terminals[-1] is Terminal.TRUNCATED and set(terminals[:-1]) == {Terminal.NONE}


def test_a_caption_blind_policy_reaches_about_one_in_k():
    env = CaptionRoom()
    rng = np.random.default_rng(0)
    outcomes = []
    for seed in range(600):
        env.reset(seed=seed)
        goal = env.objects[int(rng.integers(env.num_objects))][0]  # ignores the caption
        done, info = False, {}
        for move in path_to(env, goal) + [0] * env.max_steps:
            _, _, terminated, truncated, info = env.step({'move': move})
            if terminated or truncated:
                break
        outcomes.append(info.get('success', False))
    assert np.mean(outcomes) <= 1 / env.num_objects + 0.05


def test_shaping_rewards_getting_closer_to_the_named_object():
    env = CaptionRoom(shaping=0.1)
    env.reset(seed=3)
    moves = clear_room(env, env.target)
    _, reward, *_ = env.step({'move': moves[0]})
    assert reward == pytest.approx(0.1) or reward > 0.5  # one step closer (or arrived)


def test_render_and_bad_arguments():
    env = CaptionRoom(render_mode='rgb_array')
    env.reset(seed=0)
    assert env.render().shape == (200, 200, 3)  # the whole room, 8x
    with pytest.raises(ConfigError, match=r'CaptionRoom: num_objects: expected an int in \[2, 16\]; received 1'):
        CaptionRoom(num_objects=1)
    with pytest.raises(ConfigError, match=r"CaptionRoom: render_mode: expected one of \[None, 'rgb_array'\]"):
        CaptionRoom(render_mode='human')


@pytest.mark.parametrize('kwargs, field', [
    (dict(size=True), 'size'), (dict(size=17), 'size'), (dict(cell=5.5), 'cell'),
    (dict(max_steps=0), 'max_steps'), (dict(swap_caption=1), 'swap_caption'),
    (dict(shaping=float('nan')), 'shaping'), (dict(view='top'), 'view'),
])
def test_bad_arguments_are_config_errors_naming_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=f'CaptionRoom: {field}: expected'):
        CaptionRoom(**kwargs)


def test_the_egocentric_view_centres_the_agent_and_the_room_view_shows_the_room():
    env = CaptionRoom()
    observation, _ = env.reset(seed=2)
    cell, centre = env.cell, (env.size - 1) * env.cell
    assert observation['image'][centre + cell // 2, centre + cell // 2].tolist() == [255, 255, 255]
    room = CaptionRoom(view='room')
    observation, _ = room.reset(seed=2)
    row, column = room.agent
    assert observation['image'].shape == (25, 25, 3)
    assert observation['image'][row * 5 + 2, column * 5 + 2].tolist() == [255, 255, 255]
    with pytest.raises(ConfigError, match="CaptionRoom: view: expected one of"):
        CaptionRoom(view='top')


@pytest.mark.parametrize('size, cell', [(3, 5), (5, 5), (4, 7)])
def test_egocentric_view_equals_the_padded_room_cut_around_the_agent(size, cell):
    from modalbridge.envs.caption_room import WALL
    env = CaptionRoom(size=size, cell=cell, max_steps=50)
    rng = np.random.default_rng(size)
    for episode in range(3):
        observation, _ = env.reset(seed=episode)
        for _ in range(12):
            margin, (row, column) = (size - 1) * cell, env.agent
            padded = np.pad(env._room(), ((margin, margin), (margin, margin), (0, 0)), constant_values=WALL)
            width = (2 * size - 1) * cell
            expected = padded[row * cell:row * cell + width, column * cell:column * cell + width]
            assert np.array_equal(observation['image'], expected)
            assert not np.shares_memory(observation['image'], env._canvas)
            observation, _, terminated, truncated, _ = env.step({'move': int(rng.integers(4))})
            if terminated or truncated:
                break
