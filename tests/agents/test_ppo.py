import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from modalbridge.agents import A2C, PPO, Agent, Runner, losses
from modalbridge.bridges import Environment, GymBridge, ModalbridgeError, Step, Terminal, VectorEnvironment

VECTOR = dict(state=dict(type='float', shape=(2,)))
CHOICE = dict(action=dict(type='int', num_values=2))


def test_clipped_surrogate_by_hand():
    log_prob = tf.constant([math.log(1.5), math.log(0.5), math.log(1.1)])
    loss, clip_fraction, approx_kl = losses.clipped_surrogate(log_prob, tf.zeros(3), tf.constant([1.0, -1.0, 2.0]),
                                                              0.2)
    # min(r A, clip(r) A): min(1.5, 1.2) = 1.2; min(-0.5, -0.8) = -0.8; min(2.2, 2.2) = 2.2
    assert float(loss) == pytest.approx(-(1.2 - 0.8 + 2.2) / 3, rel=1e-6)
    assert float(clip_fraction) == pytest.approx(2 / 3)
    kl = ((0.5 - math.log(1.5)) + (-0.5 - math.log(0.5)) + (0.1 - math.log(1.1))) / 3
    assert float(approx_kl) == pytest.approx(kl, rel=1e-5)


def test_value_error_with_and_without_clipping_by_hand():
    values, old, returns = tf.constant([2.0, 0.9]), tf.constant([1.0, 1.0]), tf.constant([3.0, 0.0])
    assert float(losses.value_error(values, returns)) == pytest.approx((1.0 + 0.81) / 2)
    # clipped: V = 1 + clip(1, -.5, .5) = 1.5 -> (3 - 1.5)^2 = 2.25 > 1; 0.9 is within the range
    assert float(losses.value_error(values, returns, old, 0.5)) == pytest.approx((2.25 + 0.81) / 2)


def test_advantage_normalization_by_hand():
    np.testing.assert_allclose(losses.normalize(tf.constant([1.0, 2.0, 3.0])).numpy(),
                               [-math.sqrt(1.5), 0.0, math.sqrt(1.5)], rtol=1e-5)
    assert losses.normalize(tf.constant([4.0])).numpy().tolist() == [4.0]


def test_updates_run_epochs_times_minibatches_without_retracing():
    agent = PPO(VECTOR, CHOICE, num_envs=2, n_steps=8, batch_size=5, epochs=3, seed=0)
    rng = np.random.default_rng(0)
    updates = []
    for _ in range(3 * 8 + 1):
        agent.act(dict(state=rng.normal(size=(2, 2)).astype(np.float32)))
        updates.append(agent.observe(rng.normal(size=2), np.zeros(2, np.int64)))
    assert updates.count(True) == 3 and updates[8] and updates[16] and updates[24]
    assert agent.last_update['minibatches'] == 3 * 4  # 16 rows in minibatches of 5: 4 per epoch (the last of 1)
    assert {'loss', 'policy_loss', 'value_loss', 'entropy', 'approx_kl', 'clip_fraction', 'grad_norm',
            'explained_variance'} <= set(agent.last_update)
    assert agent.metrics is agent.last_update and all(isinstance(v, float) for v in agent.metrics.values())
    assert agent.tracing_counts == dict(act=1, act_independent=0, act_deterministic=0,
                                      act_deterministic_independent=0, act_independent_extras=0,
                                      act_deterministic_independent_extras=0, update=1)


def test_the_fused_update_equals_one_compiled_call_per_minibatch():
    """All epochs x minibatches run in one compiled call; on the same rollout, weights, optimizer and
    shuffled orders they give what one call per minibatch (the loop body alone) gives."""
    config = dict(num_envs=2, n_steps=8, batch_size=5, epochs=3, clip_range_vf=0.3, learning_rate=1e-2, seed=3)
    fused, reference = PPO(VECTOR, CHOICE, **config), PPO(VECTOR, CHOICE, **config)
    rollouts = []
    fused._learn = lambda rollout: rollouts.append(rollout) or {}  # collect one rollout, learn nothing yet
    rng = np.random.default_rng(0)
    for _ in range(9):
        fused.act(dict(state=rng.normal(size=(2, 2)).astype(np.float32)))
        fused.observe(rng.normal(size=2), rng.choice([0, 0, 0, 1], size=2))
    del fused._learn
    rollout = rollouts[0]
    summary = fused._learn(rollout)

    step = tf.function(reference._minibatch_step)
    data = ({k: tf.constant(v.reshape((-1,) + v.shape[2:])) for k, v in rollout.states.items()},
            {k: tf.constant(v.reshape(-1)) for k, v in rollout.samples.items()},
            *(tf.constant(a.reshape(-1), tf.float32) for a in (rollout.log_prob, rollout.value, rollout.advantages,
                                                                rollout.returns)))
    hyper = (tf.constant(1e-2), tf.constant(0.2), tf.constant(0.0))
    history = []
    for _ in range(3):
        order = reference._rng.permutation(16).astype(np.int32)
        for start in range(0, 16, 5):  # minibatches of 5, 5, 5 and 1
            metrics = step(*data, tf.constant(order[start:start + 5]), *hyper, {}, tf.zeros((0, 0), tf.bool))
            history.append({key: float(value) for key, value in metrics.items()})
    assert summary['minibatches'] == len(history) == 12
    for key in ('loss', 'policy_loss', 'value_loss', 'entropy', 'clip_fraction', 'grad_norm'):
        assert summary[key] == pytest.approx(np.mean([m[key] for m in history]), rel=1e-5, abs=1e-6), key
    assert summary['approx_kl'] == pytest.approx(history[-1]['approx_kl'], rel=1e-4, abs=1e-7)
    for a, b in zip(fused.model.get_weights(), reference.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(fused.model.get_weights(),
                                                    PPO(VECTOR, CHOICE, **config).model.get_weights()))


def test_target_kl_stops_the_update_early():
    agent = PPO(VECTOR, CHOICE, num_envs=4, n_steps=16, batch_size=8, epochs=50, learning_rate=0.05,
                target_kl=1e-4, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(17):
        agent.act(dict(state=rng.normal(size=(4, 2)).astype(np.float32)))
        agent.observe(rng.normal(size=4), np.zeros(4, np.int64))
    assert agent.last_update['stopped_early'] == 1.0 and agent.last_update['minibatches'] < 50 * 8
    assert agent.last_update['approx_kl'] > 1.5e-4


def test_a_non_finite_loss_raises_naming_the_update_and_leaves_the_weights():
    agent = PPO(VECTOR, CHOICE, num_envs=1, n_steps=2, batch_size=2, epochs=1, seed=0)
    agent.act(dict(state=np.zeros((1, 2), np.float32)))
    agent.observe(np.array([1.0]), np.array([0]))
    agent.act(dict(state=np.zeros((1, 2), np.float32)))
    agent.observe(np.array([1.0]), np.array([0]))
    agent.act(dict(state=np.zeros((1, 2), np.float32)))
    # a NaN weight (states and rewards are refused when not finite) makes the loss NaN
    weights = agent.model.get_weights()
    weights[0][0, 0] = np.nan
    agent.model.set_weights(weights)
    before = [w.copy() for w in agent.model.get_weights()]
    state = [v for v in agent.optimizer.variables if 'learning_rate' not in v.name]  # iterations, moments
    optimizer_before = [v.numpy().copy() for v in state]
    with pytest.raises(ModalbridgeError, match=r'update 1 \(PPO\): the loss or its gradients are not finite'):
        agent.observe(np.array([1.0]), np.array([0]))
    for a, b in zip(before, agent.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(optimizer_before, state):
        np.testing.assert_array_equal(a, b.numpy())


def test_a_learning_rate_schedule_reaches_the_update():
    agent = PPO(VECTOR, CHOICE, num_envs=1, n_steps=4, batch_size=4, epochs=1, seed=0,
                learning_rate=dict(type='linear', initial=1e-3, final=0.0, timesteps=8),
                clip_range=dict(type='piecewise', boundaries=[6], values=[0.3, 0.1]))
    seen = []
    for _ in range(9):
        agent.act(dict(state=np.zeros((1, 2), np.float32)))
        if agent.observe(1.0, Terminal.NONE):
            seen.append((agent.last_update['learning_rate'], agent.last_update['clip_range']))
    # updates after 5 and 9 observed steps
    assert seen == [pytest.approx((1e-3 * 3 / 8, 0.3)), pytest.approx((0.0, 0.1))]


def test_ppo_solves_cartpole_within_a_small_budget():
    env = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(8)])
    agent = PPO(env.states, env.actions, num_envs=8, n_steps=32, batch_size=256, epochs=20, gae_lambda=0.8,
                discount=0.98, learning_rate=dict(type='linear', initial=1e-3, final=0.0, timesteps=100_000),
                clip_range=dict(type='linear', initial=0.2, final=0.0, timesteps=100_000), seed=0)
    history = Runner(agent, env, seed=0).run(
        timesteps=30_000, progress=False,
        callback=lambda r: not (len(r.episode_returns) >= 10 and np.mean(r.episode_returns[-10:]) >= 300))
    assert np.mean(history.episode_returns[-10:]) >= 300, history.episode_returns[-10:]


class ChooseAndPush(Environment):
    """A dict-of-actions task: `pick` the class shown (one of 3) and `push` to the target in [-1, 1].

    Reward per step: 1 for the right pick, plus ``1 - |push - target|``; 4 steps an episode.
    An untrained policy picks right 1/3 of the time and pushes about 0 (mean error 0.5).
    """

    def __init__(self):
        super().__init__(states=dict(cls=dict(type='float', shape=(3,)), target=dict(type='float', shape=(1,))),
                         actions=dict(pick=dict(type='int', num_values=3),
                                      push=dict(type='float', shape=(1,), min_value=-1.0, max_value=1.0)))

    def _reset(self, seed):
        if seed is not None or not hasattr(self, 'rng'):  # later resets continue the seeded stream
            self.rng = np.random.default_rng(seed)
        self.t = 0
        return self._draw()

    def _draw(self):
        self.cls, self.target = int(self.rng.integers(3)), float(self.rng.uniform(-1, 1))
        return dict(cls=np.eye(3, dtype=np.float32)[self.cls], target=np.array([self.target], np.float32))

    def _execute(self, actions):
        self.t += 1
        reward = float(actions['pick'] == self.cls) + 1.0 - abs(float(actions['push'][0]) - self.target)
        return Step(self._draw(), reward, Terminal.TERMINATED if self.t >= 4 else Terminal.NONE, {})


def test_ppo_learns_a_discrete_and_a_continuous_action_together():
    env = VectorEnvironment([ChooseAndPush() for _ in range(8)])
    agent = PPO(env.states, env.actions, num_envs=8, n_steps=16, batch_size=64, epochs=10, learning_rate=3e-3,
                gae_lambda=0.9, seed=0)
    Runner(agent, env, seed=0).run(timesteps=12_000, progress=False)
    probe = ChooseAndPush()
    states = probe.reset(seed=123)
    picks, errors = [], []
    for _ in range(200):
        actions = agent.act(states, deterministic=True, independent=True)
        picks.append(actions['pick'] == probe.cls)
        errors.append(abs(float(actions['push'][0]) - probe.target))
        step = probe.execute(actions)
        states = probe.reset() if step.terminal else step.states
    # measured, seeds 0-2: picks 1.0, mean push errors 0.17-0.19 (untrained: 1/3 and 0.5)
    assert np.mean(picks) >= 0.95 and np.mean(errors) <= 0.3, (np.mean(picks), np.mean(errors))


def test_bounded_gaussian_actions_stay_within_bounds():
    env = ChooseAndPush()
    agent = PPO(env.states, env.actions, n_steps=8, batch_size=8, seed=0)
    states = dict(cls=np.eye(3, dtype=np.float32), target=np.zeros((3, 1), np.float32))
    for _ in range(20):
        push = agent.act(states, independent=True)['push']
        assert np.all(np.abs(push) <= 1.0)


def test_save_load_and_export_give_the_same_actions(tmp_path):
    env = ChooseAndPush()
    agent = PPO(env.states, env.actions, n_steps=8, batch_size=8, seed=0,
                preprocessing=dict(target=[dict(type='clip', min_value=-0.5, max_value=0.5)]))
    Runner(agent, env, seed=0).run(timesteps=40, progress=False)
    states = dict(cls=np.eye(3, dtype=np.float32), target=np.array([[-0.9], [0.1], [0.7]], np.float32))
    expected = agent.act(states, deterministic=True, independent=True)
    loaded = Agent.load(agent.save(tmp_path / 'agent'))
    assert isinstance(loaded, PPO) and loaded.config == agent.config
    again = loaded.act(states, deterministic=True, independent=True)
    for name in expected:
        np.testing.assert_array_equal(expected[name], again[name])
    path = agent.export(tmp_path / 'exported')
    np.savez(tmp_path / 'states.npz', **states)
    script = textwrap.dedent(f'''
        import sys, numpy as np, tensorflow as tf
        model = tf.saved_model.load({str(path)!r})
        states = dict(np.load({str(tmp_path / 'states.npz')!r}))
        out = model.signatures['serving_default'](**{{k: tf.constant(v) for k, v in states.items()}})
        np.savez({str(tmp_path / 'out.npz')!r}, **{{k: v.numpy() for k, v in out.items()}})
        assert 'modalbridge' not in sys.modules
    ''')
    subprocess.run([sys.executable, '-c', script], check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'),
                   cwd=tmp_path)
    exported = np.load(tmp_path / 'out.npz')
    np.testing.assert_array_equal(exported['pick'], expected['pick'])
    np.testing.assert_allclose(exported['push'], expected['push'], rtol=1e-6)


def test_a2c_and_ppo_share_the_policy_and_buffer():
    a2c, ppo = A2C(VECTOR, CHOICE, seed=0), PPO(VECTOR, CHOICE, n_steps=4, batch_size=4, seed=0)
    assert type(a2c.policy) is type(ppo.policy) and type(a2c.buffer) is type(ppo.buffer)
