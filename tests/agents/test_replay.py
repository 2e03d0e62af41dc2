import re

import numpy as np
import pytest
from dm_env import specs
from hypothesis import given, settings, strategies as st

from modalbridge.agents.replay import ReplayMemory, SumTree
from modalbridge.bridges import ConfigError, SpecError, Terminal
from modalbridge.preprocess.temporal import Sequence

MOVE = dict(move=dict(type='int', num_values=3))


def frames_memory(length=3, capacity=100, **options):
    # (2, length) uint8: frames of shape (2, 1) stacked on the last axis, as `sequence` makes them
    states = dict(image=dict(type='int', shape=(2, length), min_value=0, max_value=255, dtype='uint8'))
    return ReplayMemory(states, MOVE, capacity=capacity, frame_stacks=dict(image=length), seed=0, **options)


def by_newest_frame(memory, draws=400):
    """Sampled transitions keyed by the newest frame of their state (unique per step here)."""
    batch = memory.sample(draws)
    return {int(s[0, -1]): (s.tolist(), n.tolist(), r, d)
            for s, n, r, d in zip(batch.states['image'], batch.next_states['image'], batch.rewards,
                                  batch.discounts)}


def play(memory, episodes, length=3):
    """Feeds `episodes` (lists of frame values; the last is the final state) through a real
    `sequence` preprocessor, as the Runner does; the episode ends TERMINATED."""
    sequence = Sequence(specs.Array((2, 1), np.uint8), length)
    state = sequence.initial_state(1)
    for frames in episodes:
        first = np.array([True])
        for t, value in enumerate(frames[:-1]):
            stacked, state = sequence.numpy_step(np.full((1, 2, 1), value, np.uint8), state, first)
            first = np.array([False])
            ended = t == len(frames) - 2
            final = None
            if ended:
                final, _ = sequence.numpy_step(np.full((1, 2, 1), frames[-1], np.uint8), state, first)
            memory.add(dict(image=stacked), dict(move=np.array([0])), reward=np.array([1.0]),
                       terminal=np.array([Terminal.TERMINATED if ended else Terminal.NONE]),
                       final_states=None if final is None else dict(image=final))


def test_frame_stacks_are_rebuilt_across_an_episode_boundary():
    memory = frames_memory()
    play(memory, [[10, 11, 12, 13], [20, 21, 22, 23, 24]])
    seen = by_newest_frame(memory)
    # before an episode's start its first frame repeats; each frame is stored once, rows = steps + finals
    assert seen[10][0] == [[10, 10, 10], [10, 10, 10]]
    assert seen[11][0] == [[10, 10, 11], [10, 10, 11]]
    assert seen[12][0][0] == [10, 11, 12] and seen[12][1][0] == [11, 12, 13]   # the final state
    assert seen[20][0][0] == [20, 20, 20] and seen[20][1][0] == [20, 20, 21]   # nothing of episode one
    assert seen[21][0][0] == [20, 20, 21]
    assert sorted(seen) == [10, 11, 12, 20, 21, 22, 23]
    assert len(memory) == 9 and memory._frames['image'].shape[-1] == 1


def test_frames_stay_uint8_and_a_stack_costs_one_frame():
    memory = frames_memory(length=4, capacity=1000)
    naive = 1000 * 2 * 4 * 2  # states and next states, four frames each
    assert memory._frames['image'].dtype == np.uint8
    assert memory._frames['image'].nbytes == 1000 * 2 and memory._frames['image'].nbytes * 8 == naive
    play(memory, [[1, 2, 3, 4, 5]], length=4)
    assert memory.sample(8).states['image'].dtype == np.uint8


def test_n_step_returns_by_hand():
    memory = ReplayMemory(dict(obs=dict(type='float', shape=())), MOVE, capacity=50, n_step=3, discount=0.5,
                          seed=1)
    # episode one: rewards 1, 2, 4, 8 then TERMINATED; episode two: 16, 32 then TRUNCATED (final obs 99)
    steps = [(0, 1, 0), (1, 2, 0), (2, 4, 0), (3, 8, Terminal.TERMINATED),
             (10, 16, 0), (11, 32, Terminal.TRUNCATED), (20, 64, 0), (21, 0, 0), (22, 0, 0), (23, 0, 0)]
    for obs, reward, terminal in steps:
        final = dict(obs=np.array([99.0 if obs == 11 else -1.0], np.float32))
        memory.add(dict(obs=np.array([obs], np.float32)), dict(move=np.array([1])), np.array([reward]),
                   np.array([terminal]), final_states=final if terminal else None)
    batch = memory.sample(300)
    table = {float(s): (float(r), float(d), float(n)) for s, r, d, n in
             zip(batch.states['obs'], batch.rewards, batch.discounts, batch.next_states['obs'])}
    assert table[0] == (1 + 0.5 * 2 + 0.25 * 4, 0.125, 3)     # three steps, bootstrap from obs 3
    assert table[1] == (2 + 0.5 * 4 + 0.25 * 8, 0.0, -1)      # terminated inside the window: no bootstrap
    assert table[3] == (8, 0.0, -1)
    assert table[10] == (16 + 0.5 * 32, 0.25, 99)             # truncated: bootstrap from its final state
    assert table[11] == (32, 0.5, 99)
    assert table[20] == (64, 0.125, 23)
    assert set(table) == {0, 1, 2, 3, 10, 11, 20}              # 21 and after: window not complete yet


def test_prioritized_sampling_follows_the_priorities():
    memory = ReplayMemory(dict(obs=dict(type='float', shape=())), MOVE, capacity=8, prioritized=True,
                          priority_alpha=0.5, priority_epsilon=1e-9, seed=3)
    for obs in range(5):  # four complete transitions (the fifth has no next state yet)
        memory.add(dict(obs=np.array([obs], np.float32)), dict(move=np.array([0])), np.array([0.0]),
                   np.array([0]))
    first = memory.sample(64)
    assert sorted(set(first.states['obs'].tolist())) == [0, 1, 2, 3]
    memory.update_priorities(first.indices, first.states['obs'] ** 2 + 1.0)  # priorities 1, 2, 5, 10
    draws = 40_000
    batch = memory.sample(draws, beta=1.0)
    expected = np.sqrt([1.0, 2.0, 5.0, 10.0])
    expected /= expected.sum()
    frequencies = np.bincount(batch.states['obs'].astype(int), minlength=4) / draws
    sigma = np.sqrt(expected * (1 - expected) / draws)
    assert np.all(np.abs(frequencies - expected) < 4 * sigma), (frequencies, expected)
    weights = {float(s): float(w) for s, w in zip(batch.states['obs'], batch.weights)}
    assert weights[0] == pytest.approx(1.0)
    assert weights[3] == pytest.approx(expected[0] / expected[3])  # (N P)^-1, over the batch's largest


def test_parallel_environments_keep_their_own_episodes():
    memory = ReplayMemory(dict(obs=dict(type='int', shape=(2,), min_value=0, max_value=999, dtype='int32')),
                          MOVE, capacity=40, parallel=2, frame_stacks=dict(obs=2), seed=0)
    previous = np.zeros(2, np.int32)
    for t in range(6):
        frame = np.array([100 + t, 200 + t], np.int32)
        first = t in (0,) or np.array([False, t == 3])
        stacked = np.stack([np.where(first, frame, previous), frame], axis=1)
        terminal = np.array([0, Terminal.TERMINATED if t == 2 else 0])
        memory.add(dict(obs=stacked), dict(move=np.array([0, 1])), np.array([1.0, 2.0]), terminal,
                   final_states=dict(obs=np.stack([frame, frame + 50], axis=1)))
        previous = frame
    batch = memory.sample(300)
    pairs = {tuple(s): tuple(n) for s, n in zip(batch.states['obs'].tolist(), batch.next_states['obs'].tolist())}
    assert pairs[(100, 101)] == (101, 102)
    assert pairs[(201, 202)] == (202, 252)           # env 1's final state
    assert pairs[(203, 203)] == (203, 204)           # env 1's new episode, not env 0's frames
    assert {a for a, _ in pairs} <= set(range(100, 106)) | set(range(200, 206))


@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 4), n_step=st.integers(1, 4), capacity=st.integers(10, 30),
       ends=st.lists(st.sampled_from([0, 0, 0, 1, 2]), min_size=5, max_size=60))
def test_samples_equal_a_naive_memory(length, n_step, capacity, ends):
    """Every sample equals the transition a naive memory (whole stacks, per-step targets) holds."""
    memory = ReplayMemory(dict(obs=dict(type='float', shape=(length,))), MOVE, capacity=capacity,
                          frame_stacks=dict(obs=length), n_step=n_step, discount=0.5, seed=0)
    history, steps = [], []  # naive: (stack, reward, terminal, final stack)
    for t, terminal in enumerate(ends):
        history = [t] * length if not history else history[1:] + [t]
        final = history[1:] + [1000 + t]
        steps.append((list(history), float(t + 1), terminal, final))
        memory.add(dict(obs=np.array([history], np.float32)), dict(move=np.array([t % 3])), np.array([t + 1.0]),
                   np.array([terminal]), final_states=dict(obs=np.array([final], np.float32)))
        if terminal:
            history = []
    try:
        batch = memory.sample(64)
    except ConfigError:
        return  # nothing complete yet
    for stack, action, reward, discount, next_stack in zip(batch.states['obs'], batch.actions['move'],
                                                           batch.rewards, batch.discounts, batch.next_states['obs']):
        t = int(stack[-1])
        assert stack.tolist() == steps[t][0] and action == t % 3
        assert t >= len(ends) - capacity  # never an overwritten row
        expected, k = 0.0, 0
        while True:
            expected += 0.5 ** k * steps[t + k][1]
            if steps[t + k][2] or k + 1 == n_step:
                break
            k += 1
        assert reward == pytest.approx(expected)
        end = steps[t + k][2]
        assert discount == (0.0 if end == 1 else 0.5 ** (k + 1))
        if end == 2:
            assert next_stack.tolist() == steps[t + k][3]
        elif end == 0:
            assert next_stack.tolist() == steps[t + k + 1][0]


def test_sum_tree_sums_and_finds():
    tree = SumTree(5)
    tree.update(np.array([0, 1, 4, 4]), np.array([1.0, 2.0, 7.0, 7.0]))
    assert tree.total == 10.0
    assert tree.find(np.array([0.0, 0.99, 1.0, 2.99, 3.0, 9.99])).tolist() == [0, 0, 1, 1, 4, 4]


@pytest.mark.parametrize('options, message', [
    (dict(capacity=0), 'memory_capacity: expected an int >= 1'),
    (dict(capacity=True), 'memory_capacity: expected an int >= 1; received True (a bool)'),
    (dict(n_step=0), 'n_step: expected an int >= 1'),
    (dict(discount=1.5), 'discount: expected a finite number in [0, 1]'),
    (dict(discount=float('nan')), 'discount: expected a finite number'),
    (dict(prioritized='yes'), 'prioritized'),
    (dict(priority_alpha=-1.0), 'priority_alpha'),
    (dict(parallel=0), 'parallel: expected an int >= 1'),
    (dict(frame_stacks=dict(image=3)), "frame_stacks['image']: no such state"),
    (dict(frame_stacks=dict(obs=3)), "frame_stacks['obs']: the last axis"),
    (dict(frame_stacks=dict(obs=0)), "frame_stacks['obs']: expected an int >= 1"),
    (dict(frame_stacks=[4]), 'frame_stacks: expected a dict'),
])
def test_bad_arguments_are_refused(options, message):
    options = dict(dict(capacity=10), **options)
    with pytest.raises(ConfigError, match=re.escape(message)):
        ReplayMemory(dict(obs=dict(type='float', shape=(4,))), MOVE, **options)


def test_bad_use_is_refused():
    memory = ReplayMemory(dict(obs=dict(type='float', shape=(2,))), MOVE, capacity=10)
    with pytest.raises(ConfigError, match='no complete transitions'):
        memory.sample(2)
    with pytest.raises(SpecError, match='obs'):
        memory.add(dict(obs=np.zeros((1, 3))), dict(move=[0]), [0.0], [0])
    with pytest.raises(SpecError, match='reward'):
        memory.add(dict(obs=np.zeros((1, 2))), dict(move=[0]), [0.0, 1.0], [0])
    with pytest.raises(SpecError, match='Terminal values'):
        memory.add(dict(obs=np.zeros((1, 2))), dict(move=[0]), [0.0], [3])
    with pytest.raises(SpecError, match='actions'):
        memory.add(dict(obs=np.zeros((1, 2))), dict(jump=[0]), [0.0], [0])
    with pytest.raises(ConfigError, match='not prioritized'):
        memory.update_priorities(np.array([0]), np.array([1.0]))
    with pytest.raises(ConfigError, match='batch_size'):
        memory.sample(0)
