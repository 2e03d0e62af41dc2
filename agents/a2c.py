"""A2C, the synchronous advantage actor-critic, in one place.

The algorithm, top to bottom:

1. `act(states)` runs the policy-and-value network once (a compiled
   `tf.function`) on the batch of `parallel` environments, samples an
   action per head and records states, sampled actions and values.
2. `observe(reward, terminal)` records the step. A TRUNCATED episode is
   bootstrapped: its reward gets ``discount * V(final states)`` added (from
   `final_states`, or from the states it acted on when none are given) and
   the episode then counts as ended; a TERMINATED one is not bootstrapped.
3. Every `n_steps` steps (once the value of the state after them is known,
   that is at the next observe), the returns of the rollout are computed,
   n-step returns with GAE(lambda) (``gae_lambda=1`` gives plain n-step
   returns), and one gradient step minimizes::

       loss = -mean(log pi(a|s) * advantage)            policy
              + value_coef * mean((return - V(s))**2)     value
              - entropy_coef * mean(entropy)              exploration

   with the gradient's global norm clipped to `max_grad_norm`.

Defaults are Stable-Baselines3's A2C (RMSprop, lr 7e-4, n_steps 5,
discount 0.99, value_coef 0.5, entropy_coef 0, max_grad_norm 0.5).

>>> agent = A2C(states=env.states, actions=env.actions, parallel=8)
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from modalbridge.agents import networks
from modalbridge.agents.agent import Agent
from modalbridge.agents.distributions import head
from modalbridge.bridges.environment import Terminal
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import SpecLike

keras = tf.keras
WEIGHTS_FILE = 'weights.weights.h5'
# Keras adds RMSprop's epsilon inside the square root, PyTorch (and SB3) outside: 1e-10 inside ~ 1e-5 outside.
OPTIMIZERS = dict(rmsprop=lambda lr: keras.optimizers.RMSprop(lr, rho=0.99, epsilon=1e-10),
                  adam=lambda lr: keras.optimizers.Adam(lr), sgd=lambda lr: keras.optimizers.SGD(lr))


def returns_and_advantages(rewards: np.ndarray, values: np.ndarray, ended: np.ndarray, bootstrap: np.ndarray,
                           discount: float, gae_lambda: float) -> tuple[np.ndarray, np.ndarray]:
    """GAE(lambda) advantages and returns of a rollout, arrays of (steps, envs).

    ``delta_t = r_t + discount * V_{t+1} * (1 - ended_t) - V_t``;
    ``A_t = delta_t + discount * lambda * (1 - ended_t) * A_{t+1}``;
    ``return_t = A_t + V_t``; ``V_n`` is `bootstrap`.
    """
    steps = rewards.shape[0]
    advantages = np.zeros_like(rewards, dtype=np.float64)
    next_value, next_advantage = bootstrap.astype(np.float64), np.zeros_like(bootstrap, dtype=np.float64)
    for t in reversed(range(steps)):
        alive = 1.0 - ended[t]
        delta = rewards[t] + discount * next_value * alive - values[t]
        next_advantage = delta + discount * gae_lambda * alive * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages + values, advantages


class A2C(Agent):
    """Synchronous advantage actor-critic over `parallel` environments (see the module docstring)."""

    def __init__(self, states: Mapping[str, SpecLike], actions: Mapping[str, SpecLike], network: Any = 'auto',
                 parallel: int = 1, n_steps: int = 5, discount: float = 0.99, gae_lambda: float = 1.0,
                 learning_rate: float = 7e-4, optimizer: str = 'rmsprop', value_coef: float = 0.5,
                 entropy_coef: float = 0.0, max_grad_norm: float = 0.5, normalize_advantage: bool = False,
                 shared_network: bool = False, seed: int | None = None):
        super().__init__(states, actions, parallel)
        if optimizer not in OPTIMIZERS:
            raise ConfigError(f'optimizer: expected one of {sorted(OPTIMIZERS)}; received {optimizer!r}')
        if not isinstance(n_steps, int) or n_steps < 1:
            raise ConfigError(f'n_steps: expected a positive int; received {n_steps!r}')
        for key, value, positive in (('discount', discount, False), ('gae_lambda', gae_lambda, False),
                                     ('learning_rate', learning_rate, True), ('max_grad_norm', max_grad_norm, True)):
            bounds_ok = 0 < value if positive else 0 <= value <= 1
            if not isinstance(value, (int, float)) or not bounds_ok:
                expected = 'a positive number' if positive else 'a number in [0, 1]'
                raise ConfigError(f'{key}: expected {expected}; received {value!r}')
        self.hyper = dict(network=network, n_steps=n_steps, discount=float(discount), gae_lambda=float(gae_lambda),
                          learning_rate=float(learning_rate), optimizer=optimizer, value_coef=float(value_coef),
                          entropy_coef=float(entropy_coef), max_grad_norm=float(max_grad_norm),
                          normalize_advantage=bool(normalize_advantage), shared_network=bool(shared_network),
                          seed=seed)
        if seed is not None:
            keras.utils.set_random_seed(seed)
        self._generator = tf.random.Generator.from_seed(0 if seed is None else seed)

        # The model: states -> embedding -> one raw output per action head, and the value
        # (from its own copy of the network unless `shared_network`, as Stable-Baselines3 does).
        self.heads = {name: head(spec) for name, spec in self.actions.items()}
        torso = networks.build(self.states, network, name='policy_network')
        embedding = torso.outputs[0]
        outputs = {name: h.raw(embedding) for name, h in self.heads.items()}
        if not shared_network:
            critic = networks.build(self.states, network, name='value_network')
            embedding = critic(torso.input)
        outputs['__value__'] = keras.layers.Dense(1, kernel_initializer=keras.initializers.Orthogonal(1.0),
                                                  name='value')(embedding)
        self.model = keras.Model(torso.input, outputs, name='a2c')
        self.optimizer = OPTIMIZERS[optimizer](float(learning_rate))
        self.optimizer.build(self.model.trainable_variables)

        state_signature = {name: tf.TensorSpec((None,) + spec.shape, spec.dtype, name=name.replace('/', '__'))
                           for name, spec in self.states.items()}
        sample_signature = {name: tf.TensorSpec((None,) + h.shape, h.sample_dtype) for name, h in self.heads.items()}
        self._act_sample = tf.function(lambda s: self._policy(s, False), input_signature=[state_signature])
        self._act_mode = tf.function(lambda s: self._policy(s, True), input_signature=[state_signature])
        self._value = tf.function(lambda s: self.model(s)['__value__'][:, 0], input_signature=[state_signature])
        scalar = tf.TensorSpec((None,), tf.float32)
        self._train = tf.function(self._gradient_step,
                                  input_signature=[state_signature, sample_signature, scalar, scalar])
        # Calling the concrete functions skips tf.function's dispatch, about half of a call's cost here.
        self._calls = dict(sample=self._act_sample.get_concrete_function(),
                           mode=self._act_mode.get_concrete_function(),
                           value=self._value.get_concrete_function(),
                           train=self._train.get_concrete_function())
        self._rollout: list[dict[str, Any]] = []
        self.last_update: dict[str, Any] = {}

    # -- acting --------------------------------------------------------------

    def _policy(self, states, deterministic: bool):
        out = self.model(states)
        samples, env_actions = {}, {}
        for name, h in self.heads.items():
            params = h.params(out[name])
            sample = h.mode(params) if deterministic else h.sample(params, self._generator)
            samples[name], env_actions[name] = sample, h.env_action(sample)
        return env_actions, samples, out['__value__'][:, 0]

    def _act(self, states, deterministic, independent):
        env_actions, samples, values = self._calls['mode' if deterministic else 'sample'](_tensors(states))
        if not independent:
            if self._rollout and 'reward' not in self._rollout[-1]:
                raise ConfigError('act: call observe() after each act() before acting again '
                                  '(or act with independent=True)')
            self._rollout.append(dict(states=states, samples={k: v.numpy() for k, v in samples.items()},
                                      value=values.numpy().astype(np.float64)))
        return {name: value.numpy() for name, value in env_actions.items()}

    def value(self, states: Mapping[str, Any]) -> np.ndarray:
        """V(s) for a batch (or one) of states."""
        batch, single = self._batch(states)
        values = self._calls['value'](_tensors(batch)).numpy()
        return values[0] if single else values

    # -- observing and learning -----------------------------------------------

    def _observe(self, reward, terminal, final_states):
        if not self._rollout or 'reward' in self._rollout[-1]:
            raise ConfigError('observe: call act() before each observe()')
        step = self._rollout[-1]
        reward = reward.astype(np.float64).copy()
        truncated = terminal == Terminal.TRUNCATED
        if truncated.any():
            final_values = (self._calls['value'](_tensors(final_states)).numpy() if final_states is not None
                            else step['value'])
            reward[truncated] += self.hyper['discount'] * final_values[truncated]
        step['reward'], step['ended'] = reward, (terminal != Terminal.NONE).astype(np.float64)
        if len(self._rollout) <= self.hyper['n_steps']:
            return False
        rollout, bootstrap = self._rollout[:-1], self._rollout[-1]
        self._rollout = [bootstrap]
        self._update(rollout, bootstrap['value'])
        return True

    def _update(self, rollout: list[dict[str, Any]], bootstrap: np.ndarray) -> None:
        rewards = np.stack([step['reward'] for step in rollout])
        values = np.stack([step['value'] for step in rollout])
        ended = np.stack([step['ended'] for step in rollout])
        returns, advantages = returns_and_advantages(rewards, values, ended, bootstrap,
                                                     self.hyper['discount'], self.hyper['gae_lambda'])
        if self.hyper['normalize_advantage'] and advantages.size > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        states = {name: np.concatenate([step['states'][name] for step in rollout]) for name in self.states}
        samples = {name: np.concatenate([step['samples'][name] for step in rollout]) for name in self.actions}
        metrics = self._calls['train'](_tensors(states), _tensors(samples),
                                       tf.constant(advantages.reshape(-1), tf.float32),
                                       tf.constant(returns.reshape(-1), tf.float32))
        self.last_update = dict(returns=returns, advantages=advantages,
                                **{key: float(value) for key, value in metrics.items()})

    def _gradient_step(self, states, samples, advantages, returns):
        with tf.GradientTape() as tape:
            out = self.model(states, training=True)
            log_prob, entropy = 0.0, 0.0
            for name, h in self.heads.items():
                params = h.params(out[name])
                log_prob += h.log_prob(params, samples[name])
                entropy += h.entropy(params)
            policy_loss = -tf.reduce_mean(log_prob * advantages)
            value_loss = tf.reduce_mean(tf.square(returns - out['__value__'][:, 0]))
            entropy = tf.reduce_mean(entropy)
            loss = (policy_loss + self.hyper['value_coef'] * value_loss - self.hyper['entropy_coef'] * entropy
                    + tf.add_n([0.0] + self.model.losses))
        variables = self.model.trainable_variables
        gradients, norm = tf.clip_by_global_norm(tape.gradient(loss, variables), self.hyper['max_grad_norm'])
        self.optimizer.apply_gradients(zip(gradients, variables))
        return dict(loss=loss, policy_loss=policy_loss, value_loss=value_loss, entropy=entropy, grad_norm=norm)

    def reset(self) -> None:
        self._rollout = []

    # -- checkpoints -----------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return dict(super().config(), **self.hyper)

    def _save_weights(self, directory: str) -> None:
        self.model.save_weights(os.path.join(directory, WEIGHTS_FILE))

    def _load_weights(self, directory: str) -> None:
        self.model.load_weights(os.path.join(directory, WEIGHTS_FILE))

    @property
    def tracing_counts(self) -> dict[str, int]:
        """Traces of the compiled functions (each 1 after any number of calls)."""
        return dict(act=self._act_sample.experimental_get_tracing_count(),
                    act_deterministic=self._act_mode.experimental_get_tracing_count(),
                    update=self._train.experimental_get_tracing_count())


def _tensors(arrays: Mapping[str, np.ndarray]) -> dict[str, tf.Tensor]:
    return {name: tf.constant(value) for name, value in arrays.items()}
