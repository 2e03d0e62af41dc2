import json
import re

import numpy as np
import pytest
import tensorflow as tf

from modalbridge.agents import Agent, Runner
from modalbridge.agents.td3 import TD3, TD3Config
from modalbridge.bridges import ConfigError, Environment, Step, Terminal

VECTOR = dict(state=dict(type='float', shape=(3,)))
FORCE = dict(force=dict(type='float', shape=(2,), min_value=-2.0, max_value=1.0))
SMALL = dict(network=[dict(type='dense', size=16, activation='relu')], head_size=16, batch_size=4,
             memory_capacity=100, first_update=4, learning_rate=0.01, seed=0)


class Follow(Environment):
    """One-step episodes: the state is a target in [-1, 1]; reward -(action - target)**2."""

    def __init__(self):
        super().__init__(states=dict(target=dict(type='float', shape=(1,))),
                         actions=dict(action=dict(type='float', shape=(1,), min_value=-1.0, max_value=1.0)))

    def _reset(self, seed):
        self.rng = np.random.default_rng(seed)
        return self._observe()

    def _observe(self):
        self.target = self.rng.uniform(-1, 1, size=1).astype(np.float32)
        return dict(target=self.target)

    def _execute(self, actions):
        reward = -float(np.square(actions['action'] - self.target).sum())
        return Step(self._observe(), reward, Terminal.TERMINATED, {})


def drive(agent, steps):
    rng = np.random.default_rng(0)
    for t in range(steps):
        agent.act(dict(state=rng.normal(size=(agent.parallel, 3)).astype(np.float32)))
        agent.observe(rng.normal(size=agent.parallel), np.full(agent.parallel, Terminal.TERMINATED * (t % 4 == 3)))


def test_actions_respect_the_bounds_and_deterministic_acting_adds_no_noise():
    agent = TD3(VECTOR, FORCE, **dict(SMALL, exploration=dict(type='gaussian', sigma=5.0)))
    states = dict(state=np.random.default_rng(1).normal(size=(256, 3)).astype(np.float32))
    first = agent.act(states, deterministic=True, independent=True)['force']
    assert np.array_equal(first, agent.act(states, deterministic=True, independent=True)['force'])
    assert first.dtype == np.float32 and np.all((first > -2.0) & (first < 1.0))
    noisy = agent.act(states, independent=True)['force']
    assert noisy.min() == -2.0 and noisy.max() == 1.0 and not np.array_equal(noisy, first)


def test_targets_follow_with_tau_after_every_policy_delay_critic_steps():
    agent = TD3(VECTOR, FORCE, **dict(SMALL, tau=0.5, policy_delay=2))
    drive(agent, 4)
    assert int(agent.gradient_steps.numpy()) == 1   # first update at timestep 4: critic only
    assert all(np.array_equal(a, b) for a, b in zip(agent.actor.get_weights(), agent.actor_target.get_weights()))
    old_target = agent.critic1_target.get_weights()
    drive(agent, 1)                                   # second critic step, then actor and targets
    assert int(agent.gradient_steps.numpy()) == 2
    for online, old, new in zip(agent.critic1.get_weights(), old_target, agent.critic1_target.get_weights()):
        assert np.allclose(new, 0.5 * online + 0.5 * old, atol=1e-6)
    assert not all(np.array_equal(a, b) for a, b in zip(agent.actor.get_weights(), agent.actor_target.get_weights()))


def test_the_critic_loss_uses_the_clipped_double_q_target():
    agent = TD3(VECTOR, FORCE, **dict(SMALL, target_noise=0.0))
    for weight in agent.critic2_target.weights:
        weight.assign(weight + tf.random.stateless_normal(weight.shape, (3, 4)) * 0.3)
    rng = np.random.default_rng(2)
    states = dict(state=rng.normal(size=(1, 5, 3)).astype(np.float32))
    next_states = dict(state=rng.normal(size=(1, 5, 3)).astype(np.float32))
    actions = dict(force=rng.uniform(-2, 1, size=(1, 5, 2)).astype(np.float32))
    rewards, discounts = rng.normal(size=(1, 5)).astype(np.float32), np.full((1, 5), 0.9, np.float32)
    following = dict(state=tf.constant(next_states['state'][0]))
    q1_next = agent._q(agent.critic1_target, following, agent.actor_target(following)).numpy()
    q2_next = agent._q(agent.critic2_target, following, agent.actor_target(following)).numpy()
    assert not np.allclose(q1_next, q2_next)
    y = rewards[0] + 0.9 * np.minimum(q1_next, q2_next)
    normalized = 2 * (actions['force'][0] + 2.0) / 3.0 - 1
    now = dict(state=tf.constant(states['state'][0]))
    q1 = agent._q(agent.critic1, now, dict(force=tf.constant(normalized))).numpy()
    q2 = agent._q(agent.critic2, now, dict(force=tf.constant(normalized))).numpy()
    out = agent._calls['train'](states, actions, tf.constant(rewards), tf.constant(discounts), next_states)
    assert float(out['critic_loss']) == pytest.approx(np.mean((q1 - y) ** 2) + np.mean((q2 - y) ** 2), rel=1e-4)


def test_ornstein_uhlenbeck_exploration_and_checkpoints(tmp_path):
    config = TD3Config(**dict(SMALL, num_envs=2, exploration=dict(type='OrnsteinUhlenbeckProcess',
                                                      kwargs=dict(sigma=0.1, mu=0, theta=0.1))))
    assert TD3Config.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    agent = TD3(VECTOR, FORCE, config=config)
    drive(agent, 6)
    assert agent.updates > 0 and np.isfinite(agent.last_update['critic_loss'])
    agent.save(tmp_path / 'td3')
    loaded = Agent.load(tmp_path / 'td3')
    assert isinstance(loaded, TD3) and loaded.config == agent.config
    assert all(np.array_equal(a, b) for a, b in zip(loaded.critic2_target.get_weights(),
                                                    agent.critic2_target.get_weights()))
    assert int(loaded.gradient_steps.numpy()) == int(agent.gradient_steps.numpy()) > 0  # actor delay on schedule


@pytest.mark.parametrize('fields, message', [
    (dict(tau=0.0), 'tau: expected a finite number in (0, 1)'),
    (dict(tau=True), 'tau: expected a finite number in (0, 1); received True (a bool)'),
    (dict(policy_delay=0), 'policy_delay: expected an int >= 1'),
    (dict(target_noise=float('nan')), 'target_noise: expected a finite number >= 0; received nan'),
    (dict(batch_size=2.0), 'batch_size: expected an int >= 1'),
    (dict(learning_rate=-1.0), 'learning_rate: expected a finite number > 0'),
    (dict(exploration=dict(type='epsilon_decay')), "exploration.type: 'epsilon_decay' explores discrete"),
    (dict(exploration=dict(force=dict(type='gaussian', sigma=-0.1))), "exploration['force'].sigma: expected"),
    (dict(polcy_delay=2), "TD3: unknown argument(s) ['polcy_delay']"),
])
def test_bad_configs_are_refused_naming_the_field(fields, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        TD3(VECTOR, FORCE, **fields)


def test_discrete_and_unbounded_actions_are_refused():
    with pytest.raises(ConfigError, match=re.escape("actions['move']: TD3 takes float actions with finite bounds")):
        TD3(VECTOR, dict(move=dict(type='int', num_values=3)))
    with pytest.raises(ConfigError, match=re.escape("actions['force']: TD3 takes float actions with finite")):
        TD3(VECTOR, dict(force=dict(type='float', shape=(2,))))


def test_td3_learns_to_follow_a_target():
    """Fixed seed, 1,500 one-step episodes: the greedy action tracks the state (random: ~ -0.67)."""
    env = Follow()
    agent = TD3(env.states, env.actions, network=[dict(type='dense', size=32, activation='relu')], head_size=32,
                batch_size=64, first_update=200, update_frequency=10, repeat_update=10, learning_rate=3e-3,
                exploration=dict(type='gaussian', sigma=0.3), seed=0)
    Runner(agent, env, seed=0).run(timesteps=1_500, progress=False)
    evaluation = Runner(agent, env, seed=10).run(episodes=50, evaluate=True, progress=False)
    assert np.mean(evaluation.episode_returns) >= THRESHOLD, np.mean(evaluation.episode_returns)


THRESHOLD = -0.05  # measured -0.0025 with this seed; uniform random actions score -2/3
