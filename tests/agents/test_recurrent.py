"""Recurrent agents: the core state carried per environment, reset where episodes start, trained by
truncated BPTT, driven independently with explicit internals, saved and exported."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import tensorflow as tf

from modalbridge.agents import A2C, PPO, Agent, Policy, networks
from modalbridge.agents.dqn import DQN
from modalbridge.bridges.errors import ConfigError, SpecError
from modalbridge.bridges.specs import as_specs

VECTOR = dict(state=dict(type='float', shape=(3,)))
CHOICE = dict(action=dict(type='int', num_values=2))
LSTM = [dict(type='dense', size=8), dict(type='lstm', size=4)]


def frames(count, rows=2, seed=0):
    rng = np.random.default_rng(seed)
    return [dict(state=rng.normal(size=(rows, 3)).astype(np.float32)) for _ in range(count)]


def test_an_ended_environment_restarts_its_state_while_the_other_keeps_it_bit_exactly():
    ending, running = (PPO(VECTOR, CHOICE, network=LSTM, num_envs=2, n_steps=8, batch_size=8, seed=0)
                       for _ in range(2))
    for t, states in enumerate(frames(4)):
        for agent, terminal in ((ending, [0, 1 if t == 1 else 0]), (running, [0, 0])):
            agent.act(states)
            agent.observe(np.zeros(2), np.array(terminal))
        if t == 1:
            after_end = {k: v.copy() for k, v in ending._core.items()}
    for key in ending._core:
        np.testing.assert_array_equal(ending._core[key][0], running._core[key][0])  # env 0 never saw env 1's end
        assert not np.allclose(ending._core[key][1], running._core[key][1])
    # env 1 restarted at step 2: its state is that of a fresh episode fed steps 2 and 3
    policy, core = ending.policy, ending.policy.initial_state(1)
    for states in frames(4)[2:]:
        _, extras = policy.act(dict(state=states['state'][1:]), update=False, core_state=core)
        core = extras['core_state']
    for key in core:
        np.testing.assert_allclose(ending._core[key][1:], core[key], atol=1e-6)
    assert ending.buffer.first[:4, 1].tolist() == [False, False, True, False]
    assert any(not np.array_equal(after_end[k], ending._core[k]) for k in after_end)


def test_independent_act_with_explicit_internals_equals_the_agents_own_stepping():
    agent = A2C(VECTOR, CHOICE, network=LSTM, num_envs=2, n_steps=16, seed=0)
    internals = {k: np.stack([v, v]) for k, v in agent.initial_internals().items()}
    for states in frames(5):
        _, internals = agent.act(states, internals=internals, independent=True)
        agent.act(states)
        agent.observe(np.zeros(2), np.zeros(2, np.int64))
        for key in internals:
            np.testing.assert_allclose(internals[key], agent._core[key], rtol=0, atol=1e-6)
    # one environment, unbatched, as TensorForce drives it
    single = {k: v[0] for k, v in internals.items()}
    actions, single = agent.act(dict(state=np.zeros(3, np.float32)), internals=single, independent=True)
    assert actions['action'].shape == () and single['policy_network_core0'].shape == (4,)


def test_an_episode_ending_inside_a_segment_trains_as_the_segment_split_by_hand():
    policy = Policy(VECTOR, CHOICE, network=[dict(type='gru', size=4)], num_envs=2, seed=0)
    steps = 6
    states = {'state': tf.constant(np.stack([f['state'] for f in frames(steps)]))}  # (steps, envs, 3)
    samples = {'action': tf.constant(np.random.default_rng(1).integers(2, size=(steps * 2,)))}
    core = {k: tf.constant(np.random.default_rng(2).normal(size=v.shape).astype(np.float32))
            for k, v in policy.initial_state(2).items()}
    first = np.zeros((steps, 2), bool)
    first[3, 1] = True  # env 1's episode ends after step 2 and restarts at step 3
    log_prob, _, value = policy.evaluate(states, samples, False, core, tf.constant(first))
    log_prob, value = (np.reshape(x, (steps, 2)) for x in (log_prob, value))
    assert policy._encoder is not None  # the encoder runs once over all steps, only the rest is unrolled...
    encoder, policy._encoder = policy._encoder, None
    whole = policy.evaluate(states, samples, False, core, tf.constant(first))  # ...as unrolling the whole model
    policy._encoder = encoder
    np.testing.assert_allclose(np.reshape(whole[0], (steps, 2)), log_prob, atol=1e-6)
    np.testing.assert_allclose(np.reshape(whole[2], (steps, 2)), value, atol=1e-6)

    def piece(env, start, stop, initial):
        part = {'state': states['state'][start:stop, env:env + 1]}
        picked = {'action': tf.reshape(samples['action'], (steps, 2))[start:stop, env]}
        out = policy.evaluate(part, picked, False, initial, tf.zeros((stop - start, 1), tf.bool))
        return out[0].numpy(), out[2].numpy()

    row = lambda env: {k: v[env:env + 1] for k, v in core.items()}  # noqa: E731
    fresh = {k: tf.constant(v) for k, v in policy.initial_state(1).items()}
    for env, pieces in ((0, [(0, steps, row(0))]), (1, [(0, 3, row(1)), (3, steps, fresh)])):
        for start, stop, initial in pieces:
            expected_log_prob, expected_value = piece(env, start, stop, initial)
            np.testing.assert_allclose(log_prob[start:stop, env], expected_log_prob, atol=1e-6)
            np.testing.assert_allclose(value[start:stop, env], expected_value, atol=1e-6)


@pytest.mark.parametrize('cls, options', [(PPO, dict(batch_size=8, epochs=2)), (A2C, {}),
                                          (PPO, dict(batch_size=4, shared_network=True))])
def test_the_rollout_holds_the_segment_initial_state_and_the_update_runs(cls, options):
    agent = cls(VECTOR, CHOICE, network=dict(type='auto', rnn=8, depth=1), num_envs=3, n_steps=4, seed=0,
                **options)
    for t, states in enumerate(frames(9, rows=3)):
        if t == 4:
            start = {k: v.copy() for k, v in agent._core.items()}  # the state the second segment starts from
        agent.act(states)
        terminal = np.array([0, 1 if t == 2 else 0, 2 if t == 6 else 0])
        agent.observe(np.ones(3), terminal, final_states=states)
    rollout = agent.last_rollout
    assert agent.updates == 2 and np.isfinite(agent.last_update['loss'])
    for key, value in start.items():
        np.testing.assert_array_equal(rollout.core[key], value)
    assert rollout.first[:, 2].tolist() == [False, False, False, True]  # env 2 truncated at step 6
    assert agent.tracing_counts['update'] == 1


def test_save_load_and_export_keep_the_state_semantics(tmp_path):
    agent = PPO(VECTOR, CHOICE, network=LSTM, num_envs=2, n_steps=4, batch_size=8, seed=0)
    loaded = Agent.load(agent.save(tmp_path / 'agent'))
    exported = tf.saved_model.load(agent.export(tmp_path / 'exported')).signatures['serving_default']
    initial = agent.initial_internals()
    ours = theirs = {k: np.stack([v, v]) for k, v in initial.items()}
    served = {k: tf.constant(v) for k, v in ours.items()}
    for t, states in enumerate(frames(4)):
        restart = t == 2  # env 1 starts an episode: the caller restarts its internals, the export takes `first`
        if restart:
            ours = {k: np.stack([v[0], initial[k]]) for k, v in ours.items()}
            theirs = {k: np.stack([v[0], initial[k]]) for k, v in theirs.items()}
        expected, ours = agent.act(states, deterministic=True, internals=ours, independent=True)
        actions, theirs = loaded.act(states, deterministic=True, internals=theirs, independent=True)
        out = exported(state=tf.constant(states['state']), first=tf.constant([False, restart]), **served)
        served = {k: out[f'core_state/{k}'] for k in ours}
        np.testing.assert_array_equal(actions['action'], expected['action'])
        np.testing.assert_array_equal(out['action'].numpy(), expected['action'])
        for key in ours:
            np.testing.assert_allclose(theirs[key], ours[key], atol=1e-6)
            np.testing.assert_allclose(served[key].numpy(), ours[key], atol=1e-6)


def test_a_custom_cell_plugs_in_with_its_initial_value():
    class Counter(tf.keras.layers.Layer):
        def __init__(self, size, **kwargs):
            super().__init__(**kwargs)
            self.state_size = [size]

        def call(self, inputs, states):
            return states[0] + 1.0, [states[0] + 1.0]

        def get_initial_state(self, batch_size=None):
            return [tf.keras.ops.full((batch_size, self.state_size[0]), 10.0)]

    import sys
    sys.modules[__name__].Counter = Counter
    policy = Policy(VECTOR, CHOICE, network=[dict(type=f'{__name__}.Counter', size=2)], shared_network=True,
                    num_envs=2, seed=0)
    core = policy.initial_state(2)
    assert core['policy_network_core0'].tolist() == [[10, 10], [10, 10]]
    for first in ([False, False], [False, True]):
        _, extras = policy.act(frames(1)[0], update=False, core_state=core, first=np.array(first))
        core = extras['core_state']
    assert core['policy_network_core0'].tolist() == [[12, 12], [11, 11]]


def test_bad_internals_and_memory_where_it_cannot_be_carried_are_refused():
    agent = PPO(VECTOR, CHOICE, network=LSTM, num_envs=1, n_steps=4, batch_size=4, seed=0)
    states = dict(state=np.zeros(3, np.float32))
    with pytest.raises(ConfigError, match='independent=True'):
        agent.act(states, internals=agent.initial_internals())
    with pytest.raises(SpecError, match='internals'):
        agent.act(states, internals={}, independent=True)
    bad = dict(agent.initial_internals(), policy_network_core0=np.zeros(5, np.float32))
    with pytest.raises(SpecError, match="policy_network_core0.*shape \\(4,\\)"):
        agent.act(states, internals=bad, independent=True)
    nan = dict(agent.initial_internals(), policy_network_core0=np.full(4, np.nan, np.float32))
    with pytest.raises(SpecError, match='finite'):
        agent.act(states, internals=nan, independent=True)
    with pytest.raises(ConfigError, match=r'network\[1\] \(lstm\).*core state'):
        networks.build(as_specs(VECTOR), LSTM)
    with pytest.raises(ConfigError, match='rnn'):
        networks.build(as_specs(VECTOR), dict(type='auto', rnn=0), memory=True)
    with pytest.raises(ConfigError, match='core state'):
        DQN(VECTOR, CHOICE, network=dict(type='auto', rnn=8))


def test_feed_forward_agents_keep_empty_internals():
    agent = PPO(VECTOR, CHOICE, num_envs=1, n_steps=4, batch_size=4, seed=0)
    assert agent.initial_internals() == {}
    actions, internals = agent.act(dict(state=np.zeros(3, np.float32)), internals={}, independent=True)
    assert internals == {} and actions['action'].shape == ()


class CueRecall:
    """A batch of memory episodes: a cue (one of 2) shown in the first state only, then `delay` blank
    steps, then the action must name the cue (reward 1). Without memory the best is 1/2."""

    def __init__(self, num_envs: int, delay: int, seed: int):
        self.rng = np.random.default_rng(seed)
        self.delay, self.cue, self.t = delay, self.rng.integers(2, size=num_envs), np.zeros(num_envs, int)

    def states(self):
        state = np.zeros((len(self.t), 3), np.float32)
        shown = self.t == 0
        state[shown, self.cue[shown]] = 1.0
        state[:, 2] = self.t / self.delay
        return dict(state=state)

    def step(self, action):
        last = self.t == self.delay
        reward = np.where(last, (action == self.cue).astype(float), 0.0)
        self.t = np.where(last, 0, self.t + 1)
        self.cue[last] = self.rng.integers(2, size=int(last.sum()))
        return reward, last.astype(np.int64)


def recall_rate(cls, layer: str, steps: int, **options) -> float:
    env = CueRecall(num_envs=8, delay=3, seed=0)
    agent = cls(VECTOR, CHOICE, network=[dict(type='dense', size=16), dict(type=layer, size=16)], num_envs=8,
                learning_rate=3e-3, entropy_coef=0.01, seed=0, **options)
    outcomes = []
    for _ in range(steps // 8):
        reward, terminal = env.step(agent.act(env.states())['action'])
        outcomes += reward[terminal == 1].tolist()
        agent.observe(reward, terminal)
    return float(np.mean(outcomes[-100:]))


PPO_OPTIONS = dict(n_steps=16, batch_size=64, epochs=4)


def test_a_recurrent_ppo_learns_to_recall_a_cue_a_feed_forward_one_cannot():
    assert recall_rate(PPO, 'lstm', 2400, **PPO_OPTIONS) >= 0.9  # measured 0.99 after 3000 steps
    assert recall_rate(PPO, 'dense', 2400, **PPO_OPTIONS) <= 0.65  # blind: 1/2


def test_a_recurrent_a2c_learns_to_recall_a_cue():
    assert recall_rate(A2C, 'gru', 8000, n_steps=8, optimizer='adam') >= 0.9  # measured 0.99


def test_a_state_read_after_a_cell_unrolls_the_whole_model():
    states = dict(a=dict(type='float', shape=(3,)), b=dict(type='float', shape=(2,)))
    policy = Policy(states, CHOICE, network=dict(a=[dict(type='lstm', size=4)]), num_envs=2, seed=0)
    assert policy.recurrent and policy._encoder is None  # b joins after a's cell: no split
    sequence = {k: tf.zeros((3, 2) + v['shape']) for k, v in states.items()}
    log_prob, _, value = policy.evaluate(sequence, {'action': tf.zeros(6, tf.int64)}, False,
                                         {k: tf.constant(v) for k, v in policy.initial_state(2).items()},
                                         tf.zeros((3, 2), tf.bool))
    assert log_prob.shape == (6,) and value.shape == (6,)


def test_a_one_step_segment_trains():
    agent = A2C(VECTOR, CHOICE, network=[dict(type='gru', size=4)], num_envs=2, n_steps=1, seed=0)
    for t, states in enumerate(frames(3)):
        agent.act(states)
        agent.observe(np.ones(2), np.array([0, t % 2]))
    assert agent.updates == 2 and np.isfinite(agent.last_update['loss'])


_AGENT = []


def small_agent():
    if not _AGENT:
        _AGENT.append(A2C(VECTOR, CHOICE, network=[dict(type='lstm', size=2)], shared_network=True, seed=0))
    return _AGENT[0]


@settings(max_examples=40, deadline=None)
@given(shapes=st.lists(st.lists(st.integers(0, 3), max_size=2).map(tuple), min_size=2, max_size=2),
       dtype=st.sampled_from(['float32', 'float64', 'int32', 'bool']), batched=st.booleans())
def test_internals_of_any_other_shape_or_dtype_are_refused_with_a_spec_error(shapes, dtype, batched):
    agent = small_agent()
    keys = sorted(agent.initial_internals())
    expected = (1, 2) if batched else (2,)
    internals = {key: np.zeros(shape, dtype) for key, shape in zip(keys, shapes)}
    states = dict(state=np.zeros((1, 3) if batched else (3,), np.float32))
    if all(shape == expected for shape in shapes) and dtype.startswith('float'):
        _, out = agent.act(states, internals=internals, independent=True)
        assert all(out[key].shape == expected for key in keys)
    else:
        with pytest.raises(SpecError, match='internals'):
            agent.act(states, internals=internals, independent=True)


@pytest.mark.parametrize('network', [LSTM, dict(a=[dict(type='gru', size=4)])])
def test_the_unrolled_log_probs_and_values_of_a_rollout_equal_those_recorded_while_acting(network):
    states_spec = VECTOR if isinstance(network, list) else dict(a=dict(type='float', shape=(3,)),
                                                                 b=dict(type='float', shape=(2,)))

    class Checked(PPO):
        def _learn(self, rollout):
            log_prob, _, value = self.policy.evaluate(
                {k: tf.constant(v) for k, v in rollout.states.items()},
                {k: tf.constant(v.reshape(-1)) for k, v in rollout.samples.items()}, False,
                {k: tf.constant(v) for k, v in rollout.core.items()}, tf.constant(rollout.first))
            self.checked = (log_prob.numpy().reshape(rollout.log_prob.shape), value.numpy().reshape(rollout.value.shape),
                            rollout.log_prob.copy(), rollout.value.copy())
            return {}

    agent = Checked(states_spec, CHOICE, network=network, num_envs=3, n_steps=5, batch_size=5, seed=0)
    rng = np.random.default_rng(0)
    for t in range(6):
        agent.act({k: rng.normal(size=(3,) + v['shape']).astype(np.float32) for k, v in states_spec.items()})
        agent.observe(np.ones(3), np.array([0, 1 if t == 1 else 0, 1 if t == 3 else 0]))
    log_prob, value, recorded_log_prob, recorded_value = agent.checked
    np.testing.assert_allclose(log_prob, recorded_log_prob, atol=1e-5)
    np.testing.assert_allclose(value, recorded_value, atol=1e-5)


IMAGE_CAPTION = dict(image=dict(type='int', shape=(4, 4, 3), num_values=256),
                     caption=dict(type='int', shape=(3,), num_values=5))
CONTEXT = dict(type='auto', patch=2, rnn=4, rnn_at='context', size=8, depth=1)


def test_a_core_on_the_film_context_keeps_a_caption_seen_once_and_trains_as_the_whole_model_unrolled():
    policy = Policy(IMAGE_CAPTION, CHOICE, network=CONTEXT, num_envs=2, seed=0)
    assert policy.recurrent and policy._encoder is not None  # the image maps join the cell's input outside the unroll
    rng, steps = np.random.default_rng(0), 4
    states = dict(image=tf.constant(rng.integers(256, size=(steps, 2, 4, 4, 3)), tf.int64),
                  caption=tf.constant(np.where(np.arange(steps)[:, None, None] == 0, rng.integers(1, 5, (steps, 2, 3)),
                                               0), tf.int64))  # the caption at the first step only
    samples = {'action': tf.constant(rng.integers(2, size=(steps * 2,)))}
    core = {k: tf.constant(v) for k, v in policy.initial_state(2).items()}
    first = tf.constant(np.eye(steps, 2, dtype=bool))  # env 1 restarts at step 1
    split = policy.evaluate(states, samples, False, core, first)
    encoder, policy._encoder = policy._encoder, None
    whole = policy.evaluate(states, samples, False, core, first)
    policy._encoder = encoder
    for a, b in zip(split, whole):
        np.testing.assert_allclose(a, b, atol=1e-5)  # images up to 255: larger sums
    # the caption shown at step 0 changes the policy at step 2, where the caption is empty
    other = dict(states, caption=tf.concat([states['caption'][:1] % 4 + 1, states['caption'][1:]], 0))
    changed = policy.evaluate(other, samples, False, core, tf.zeros((steps, 2), tf.bool))[0]
    same = policy.evaluate(states, samples, False, core, tf.zeros((steps, 2), tf.bool))[0]
    assert not np.array_equal(np.reshape(changed, (steps, 2))[2], np.reshape(same, (steps, 2))[2])


@pytest.mark.parametrize('network, message', [
    (dict(CONTEXT, rnn_at='caption'), "rnn_at: expected one of \\['torso', 'context'\\]"),
    (dict(type='auto', rnn=4, rnn_at='context'), 'needs one image beside other states')])
def test_a_core_on_the_context_is_refused_where_there_is_no_film_context(network, message):
    states = IMAGE_CAPTION if network.get('patch') else VECTOR
    with pytest.raises(ConfigError, match=message):
        networks.build(as_specs(states), network, memory=True)
