import numpy as np
import pytest

from modalbridge.agents import PPO, Policy
from modalbridge.bridges import Terminal
from modalbridge.preprocess import Stack

VECTOR = dict(state=dict(type='float', shape=(2,)))
CHOICE = dict(action=dict(type='int', num_values=2))
SEQUENCE = dict(state=[dict(type='sequence', length=2)])


def test_a_policy_acts_without_a_learner_with_an_empty_core_state():
    policy = Policy(VECTOR, dict(move=dict(type='int', num_values=3), jump=dict(type='bool')), num_envs=4, seed=0)
    assert policy.initial_state(4) == {}
    actions, extras = policy.act(dict(state=np.zeros((4, 2), np.float32)), deterministic=True, update=False)
    assert actions['move'].shape == (4,) and actions['jump'].dtype == bool
    assert extras['log_prob'].shape == (4,) and extras['value'].shape == (4,)
    assert set(policy.model.output) == {'outputs', 'value'}  # named outputs, no magic keys
    assert policy.tracing_counts['act_deterministic_independent_extras'] == 1


def test_acting_only_takes_a_step_traced_without_the_extras_and_the_same_actions():
    policy = Policy(VECTOR, dict(move=dict(type='int', num_values=3)), num_envs=4, seed=0)
    states = dict(state=np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32))
    with_extras, extras = policy.act(states, deterministic=True, update=False)
    acting, nothing = policy.act(states, deterministic=True, update=False, with_extras=False)
    np.testing.assert_array_equal(acting['move'], with_extras['move'])
    assert nothing == {} and sorted(extras) == ['log_prob', 'sample', 'value']
    assert policy.tracing_counts['act_deterministic_independent'] == 1
    assert policy.tracing_counts['act_deterministic_independent_extras'] == 1
    only, full = (policy._calls[True, False, extras, None].function for extras in (False, True))
    assert len(only.graph.as_graph_def().node) < len(full.graph.as_graph_def().node)


def test_text_states_are_tokenized_inside_the_compiled_act():
    states = dict(caption=dict(type='text'))
    agent = PPO(states, CHOICE, num_envs=2, n_steps=4, batch_size=4, seed=0,
                preprocessing=dict(caption=[dict(type='tokenize', length=3, vocabulary=['red', 'ball'])]))
    agent.act(dict(caption=np.array(['red ball', 'ball'], object)))
    assert agent.buffer.states['caption'].dtype.kind in 'iu'
    assert agent.buffer.states['caption'][0].tolist() == Stack(states, agent.config.preprocessing, num_envs=2,
                                                               backend='numpy')(
        dict(caption=np.array(['red ball', 'ball'], object)))['caption'].tolist()


def test_preprocessing_memory_matches_the_numpy_twin_and_resets_per_environment():
    agent = PPO(VECTOR, CHOICE, num_envs=2, n_steps=8, batch_size=8, seed=0, preprocessing=SEQUENCE)
    twin = Stack(VECTOR, SEQUENCE, num_envs=2, backend='numpy')
    rng = np.random.default_rng(0)
    frames = [rng.normal(size=(2, 2)).astype(np.float32) for _ in range(4)]
    final = dict(state=rng.normal(size=(2, 2)).astype(np.float32))
    terminals = [np.array([0, 0]), np.array([0, 2]), np.array([0, 0]), np.array([0, 0])]
    for t, (frame, terminal) in enumerate(zip(frames, terminals)):
        agent.act(dict(state=frame))
        expected = twin(dict(state=frame))
        np.testing.assert_allclose(agent.buffer.states['state'][t], expected['state'], rtol=1e-6)
        agent.observe(np.ones(2), terminal, final_states=final if terminal.any() else None)
        if terminal.any():
            peeked = twin(final, update=False)['state']
            twin.reset(terminal != 0)
    # env 1 ended after step 1: step 2 starts afresh (its first frame twice), env 0 goes on
    np.testing.assert_allclose(agent.buffer.states['state'][2, 1], np.concatenate([frames[2][1], frames[2][1]]))
    np.testing.assert_allclose(agent.buffer.states['state'][2, 0], np.concatenate([frames[1][0], frames[2][0]]))
    (row, mask, states), = agent.buffer.truncations()
    assert row == 1 and mask.tolist() == [False, True]
    np.testing.assert_allclose(states['state'], peeked[mask], rtol=1e-6)


def test_truncations_bootstrap_in_one_value_call_at_the_update():
    agent = PPO(VECTOR, CHOICE, num_envs=2, n_steps=2, batch_size=4, epochs=1, learning_rate=1e-9, discount=0.5,
                seed=0)
    final = dict(state=np.array([[9.0, 9.0], [3.0, -1.0]], np.float32))
    v_final = agent.value(final)
    for terminal in ([0, 2], [2, 0], [0, 0]):
        agent.act(dict(state=np.zeros((2, 2), np.float32)))
        agent.observe(np.ones(2), np.array(terminal), final_states=final)
    rewards = agent.last_rollout.rewards
    assert rewards[0].tolist() == pytest.approx([1.0, 1.0 + 0.5 * v_final[1]])
    assert rewards[1].tolist() == pytest.approx([1.0 + 0.5 * v_final[0], 1.0])


def test_observe_without_act_and_act_twice_are_refused():
    agent = PPO(VECTOR, CHOICE, n_steps=2, batch_size=2, seed=0)
    with pytest.raises(Exception, match=r'observe: call act\(\) before each observe\(\)'):
        agent.observe(1.0, Terminal.NONE)
    agent.act(dict(state=np.zeros(2, np.float32)))
    with pytest.raises(Exception, match=r'act: call observe\(\) after each act\(\)'):
        agent.act(dict(state=np.zeros(2, np.float32)))


def test_tokenized_text_and_running_statistics_act_independently_and_export(tmp_path):
    import tensorflow as tf
    states = dict(caption=dict(type='text'), pos=dict(type='float', shape=(2,)))
    agent = PPO(states, dict(a=dict(type='int', num_values=3)), num_envs=2, n_steps=4, batch_size=4, seed=0,
                preprocessing=dict(caption=[dict(type='tokenize', length=4, vocabulary=['red', 'ball', 'blue'])],
                                   pos=[dict(type='running_standardize')]))
    batch = dict(caption=np.array(['red ball', 'blue'], object), pos=np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
    for _ in range(3):
        agent.act(batch)
        agent.observe(np.zeros(2), np.zeros(2, np.int64))
    three = dict(caption=np.array(['red', 'ball', 'blue'], object), pos=np.zeros((3, 2), np.float32))
    assert agent.act(three, independent=True)['a'].shape == (3,)  # another batch size, traced for it
    expected = agent.act(batch, deterministic=True, independent=True)
    exported = tf.saved_model.load(agent.export(tmp_path / 'exported', batch_size=2))
    out = exported.signatures['serving_default'](caption=tf.constant(batch['caption'].astype(str)),
                                                 pos=tf.constant(batch['pos']))
    assert out['a'].numpy().tolist() == expected['a'].tolist()


def test_a_checkpoint_is_a_complete_policy_with_its_preprocessing_state(tmp_path):
    """Vocabulary (from a corpus) and running statistics come back exactly; the loaded agent acts
    identically on raw states, and the checkpoint stores no corpus, only the vocabulary."""
    import json

    from modalbridge.agents import PPO, Agent
    states = dict(caption=dict(type='text'), position=dict(type='float', shape=(2,)))
    preprocessing = dict(caption=[dict(type='tokenize', length=4, corpus=['go to the red ball', 'pick a key'])],
                         position=[dict(type='running_standardize')])
    agent = PPO(states, dict(action=dict(type='int', num_values=3)), preprocessing=preprocessing, n_steps=4,
                batch_size=4, num_envs=2, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(6):
        raw = dict(caption=np.array(['go to the red ball', 'pick a key'], object),
                   position=rng.normal(3.0, 2.0, (2, 2)).astype(np.float32))
        agent.act(raw)
        agent.observe(np.zeros(2), np.zeros(2, np.int64))
    agent.save(tmp_path / 'agent')
    document = json.loads((tmp_path / 'agent' / 'agent.json').read_text())
    tokenize = document['config']['preprocessing']['caption'][0]
    assert 'corpus' not in tokenize and 'red' in tokenize['vocabulary']
    loaded = Agent.load(tmp_path / 'agent')
    for name, value in agent.policy.stack.state().items():
        np.testing.assert_array_equal(loaded.policy.stack.state()[name], value, err_msg=name)
    raw = dict(caption=np.array(['go to the red ball', 'an unknown caption'], object),
               position=np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
    ours = agent.act(raw, deterministic=True, independent=True)
    theirs = loaded.act(raw, deterministic=True, independent=True)
    np.testing.assert_array_equal(ours['action'], theirs['action'])
    np.testing.assert_array_equal(agent.policy.preprocess(raw)['position'], loaded.policy.preprocess(raw)['position'])


def test_actions_whose_head_names_collide_are_a_config_error():
    from modalbridge.agents import PPO
    from modalbridge.bridges.errors import ConfigError
    with pytest.raises(ConfigError, match="actions: 'a/b' and 'a__b' both become the head layer name"):
        PPO(dict(x=dict(type='float', shape=(2,))), {'a/b': dict(type='int', num_values=2),
                                                     'a__b': dict(type='int', num_values=2)})
