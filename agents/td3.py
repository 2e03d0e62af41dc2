"""TD3 (twin delayed DDPG) for float actions, on the replay memory, in one place.

The algorithm, top to bottom (Fujimoto et al. 2018):

1. `act(states)` runs the actor once (a compiled function): per action,
   ``tanh`` of the network's output scaled to the action's bounds; the
   exploration declared in the config (Gaussian by default, or
   Ornstein-Uhlenbeck) is added in NumPy and clipped to the bounds (never
   when ``deterministic=True``).
2. `observe(reward, terminal, final_states)` writes the step into a
   `ReplayMemory` (TRUNCATED episodes bootstrap from `final_states`).
3. Once `first_update` timesteps were taken, every `update_frequency`
   timesteps, `repeat_update` gradient steps run in ONE compiled call::

       a' = clip(actor'(s') + clip(N(0, target_noise), +-noise_clip), -1, 1)   (normalized units)
       y  = R + discounts * min(Q1'(s', a'), Q2'(s', a'))
       critic loss = mean((Q1(s, a) - y)**2) + mean((Q2(s, a) - y)**2)

   and every `policy_delay` of them the actor maximizes ``Q1(s, actor(s))``
   and every target network moves to ``tau * online + (1 - tau) * target``.

Actions enter the critics in normalized units, [-1, 1] from their bounds.
The torso (`network`) is built per network; `head_size` units of ReLU
follow it in the actor, and follow the concatenation of torso and actions
in each critic.

>>> from modalbridge.bridges import GymBridge
>>> env = GymBridge('Pendulum-v1')
>>> agent = TD3(env.states, env.actions, first_update=1000, seed=0)
>>> actions = agent.act(env.reset(seed=0), deterministic=True, independent=True)
>>> actions['action'].shape, bool(abs(actions['action'][0]) <= 2.0)
((1,), True)
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import numpy as np
import tensorflow as tf

from modalbridge.agents import networks, schedules
from modalbridge.agents.config import AgentConfig
from modalbridge.agents.exploration import Exploration
from modalbridge.agents.off_policy import OffPolicyAgent
from modalbridge.agents.replay import ReplayMemory
from modalbridge.bridges import arguments
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import SpecLike, describe, is_float

if TYPE_CHECKING:  # the module, so that keras.Model is a type to the checker
    import keras
else:
    keras = tf.keras
COUNTERS_FILE = 'counters.npz'
MODELS = ('actor', 'critic1', 'critic2', 'actor_target', 'critic1_target', 'critic2_target')


@dataclasses.dataclass(frozen=True)
class TD3Config(AgentConfig):
    """TD3's hyperparameters (with `num_envs` and `seed` from `AgentConfig`; TensorForce names
    where it has one). Defaults: SB3's TD3.

    >>> TD3Config(exploration=dict(type='OrnsteinUhlenbeckProcess', kwargs=dict(sigma=0.1))).policy_delay
    2
    """

    network: Any = 'auto'                 # the torso of the actor and of each critic
    head_size: int = 256                  # ReLU units after the torso (actor) / torso + actions (critics)
    memory_capacity: int = 1_000_000
    first_update: int = 100               # timesteps before the first update
    update_frequency: int = 1             # timesteps between updates
    repeat_update: int = 1                # gradient steps per update
    batch_size: int = 256
    learning_rate: Any = 1e-3             # Adam, actor and critics: a number or a schedule over timesteps
    discount: float = 0.99
    n_step: int = 1
    tau: float = 0.005                    # target networks' update weight
    policy_delay: int = 2                 # critic steps per actor (and target) step
    target_noise: float = 0.2             # target policy smoothing, in normalized action units
    noise_clip: float = 0.5
    exploration: Any = dataclasses.field(default_factory=lambda: dict(type='gaussian', sigma=0.1))
    frame_stacks: Any = None              # state name -> frames stacked on its last axis (stored once)

    def __post_init__(self) -> None:
        super().__post_init__()
        checks = dict(
            head_size=lambda v: arguments.integer('head_size', v, minimum=1),
            memory_capacity=lambda v: arguments.integer('memory_capacity', v, minimum=1),
            first_update=lambda v: arguments.integer('first_update', v, minimum=0),
            update_frequency=lambda v: arguments.integer('update_frequency', v, minimum=1),
            repeat_update=lambda v: arguments.integer('repeat_update', v, minimum=1),
            batch_size=lambda v: arguments.integer('batch_size', v, minimum=1),
            discount=lambda v: arguments.number('discount', v, 0, 1),
            n_step=lambda v: arguments.integer('n_step', v, minimum=1),
            tau=lambda v: arguments.number('tau', v, 0, 1, inclusive=False) if v != 1 or isinstance(v, bool)
            else 1.0,
            policy_delay=lambda v: arguments.integer('policy_delay', v, minimum=1),
            target_noise=lambda v: arguments.number('target_noise', v, 0),
            noise_clip=lambda v: arguments.number('noise_clip', v, 0),
        )
        for name, check in checks.items():
            object.__setattr__(self, name, check(getattr(self, name)))
        rate = schedules.schedule(self.learning_rate, 'learning_rate')
        if rate.is_constant:
            arguments.number('learning_rate', rate.value(0), 0, inclusive=False)
        object.__setattr__(self, 'learning_rate', rate.to_dict())
        if self.frame_stacks is not None and not isinstance(self.frame_stacks, Mapping):
            raise ConfigError(f'frame_stacks: expected a dict of state name -> length; received {self.frame_stacks!r}')


class TD3(OffPolicyAgent):
    """TD3 over `num_envs` environments (see the module docstring); its keyword arguments
    are `TD3Config`'s fields, or `config=` a whole `TD3Config`.

    >>> agent = TD3(dict(state=dict(type='float', shape=(2,))),
    ...             dict(force=dict(type='float', shape=(1,), min_value=-2.0, max_value=2.0)),
    ...             num_envs=2, head_size=16, first_update=50, seed=0)
    >>> agent.parallel, agent.config.policy_delay
    (2, 2)
    >>> agent.act(dict(state=np.zeros((2, 2), np.float32)))['force'].shape
    (2, 1)
    """

    Config: ClassVar[type[TD3Config]] = TD3Config
    config: TD3Config

    def __init__(self, states: Mapping[str, SpecLike], actions: Mapping[str, SpecLike], parallel: int | None = None,
                 config: TD3Config | None = None, safe_mode: bool = False, **fields: Any):
        super().__init__(states, actions, parallel, config=config, **fields)
        self.config: TD3Config
        h = self.config
        self._safe_mode = safe_mode
        for name, spec in self.actions.items():
            bounded = hasattr(spec, 'minimum') and np.all(np.isfinite(spec.minimum)) and np.all(
                np.isfinite(spec.maximum))
            if not is_float(spec) or not bounded:
                raise ConfigError(f'actions[{name!r}]: TD3 takes float actions with finite bounds; '
                                  f'received {describe(spec)}')
        if h.seed is not None:
            keras.utils.set_random_seed(h.seed)
        memory_rng, exploration_rng = np.random.default_rng(h.seed).spawn(2)
        self.exploration = Exploration(h.exploration, self.actions, self.num_envs, exploration_rng)
        self.memory = ReplayMemory(self.states, self.actions, h.memory_capacity, self.num_envs, h.frame_stacks,
                                   h.n_step, h.discount, seed=memory_rng)
        self._learning_rate = schedules.schedule(h.learning_rate, 'learning_rate')
        self._generator = tf.random.Generator.from_seed(0 if h.seed is None else h.seed)
        self._low = {n: tf.constant(np.broadcast_to(s.minimum, s.shape), tf.float32) for n, s in self.actions.items()}
        self._high = {n: tf.constant(np.broadcast_to(s.maximum, s.shape), tf.float32) for n, s in self.actions.items()}
        self._sizes = {name: int(np.prod(spec.shape)) for name, spec in self.actions.items()}

        self.actor, self.actor_target = self._actor('actor'), self._actor('actor_target')
        self.critic1, self.critic1_target = self._critic('critic1'), self._critic('critic1_target')
        self.critic2, self.critic2_target = self._critic('critic2'), self._critic('critic2_target')
        for online, target in self._pairs():
            target.set_weights(online.get_weights())
        self.actor_optimizer = keras.optimizers.Adam(self._learning_rate.value(0))
        self.critic_optimizer = keras.optimizers.Adam(self._learning_rate.value(0))
        self.actor_optimizer.build(self.actor.trainable_variables)
        self.critic_optimizer.build(self.critic1.trainable_variables + self.critic2.trainable_variables)
        self.gradient_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name='gradient_steps')

        state_signature = {name: tf.TensorSpec((None,) + spec.shape, spec.dtype, name=name.replace('/', '__'))
                           for name, spec in self.states.items()}
        repeated = {name: tf.TensorSpec((None, None) + spec.shape, spec.dtype, name=name.replace('/', '__'))
                    for name, spec in self.states.items()}
        action_signature = {name: tf.TensorSpec((None, None) + spec.shape, tf.float32)
                            for name, spec in self.actions.items()}
        pairs = tf.TensorSpec((None, None), tf.float32)
        self._policy = tf.function(lambda s: self._env_actions(self.actor(s)), input_signature=[state_signature])
        self._train = tf.function(self._gradient_steps, input_signature=[repeated, action_signature, pairs, pairs,
                                                                         repeated])
        self._calls = dict(policy=self._policy.get_concrete_function(), train=self._train.get_concrete_function())
        self._pending: tuple[dict, dict] | None = None
        self.last_update: dict[str, Any] = {}

    def _pairs(self) -> list[tuple[keras.Model, keras.Model]]:
        return [(self.actor, self.actor_target), (self.critic1, self.critic1_target),
                (self.critic2, self.critic2_target)]

    @classmethod
    def _from_checkpoint(cls, states, actions, config, safe_mode):
        return cls(states, actions, safe_mode=safe_mode, **config)

    def _actor(self, name: str) -> keras.Model:
        torso = networks.build(self.states, self.config.network, name=f'{name}_torso', safe_mode=self._safe_mode)
        hidden = keras.layers.Dense(self.config.head_size, activation='relu')(torso.outputs[0])
        outputs = {action: keras.layers.Reshape(spec.shape)(keras.layers.Dense(
            self._sizes[action], activation='tanh', name=f'{action}_{name}')(hidden))
            for action, spec in self.actions.items()}
        return keras.Model(torso.input, outputs, name=name)

    def _critic(self, name: str) -> keras.Model:
        torso = networks.build(self.states, self.config.network, name=f'{name}_torso', safe_mode=self._safe_mode)
        action = keras.Input((sum(self._sizes.values()),), name='normalized_actions')
        hidden = keras.layers.Concatenate()([torso.outputs[0], action])
        hidden = keras.layers.Dense(self.config.head_size, activation='relu')(hidden)
        return keras.Model(dict(torso.input, normalized_actions=action), keras.layers.Dense(1)(hidden)[:, 0],
                           name=name)

    def _q(self, critic: keras.Model, states, normalized, training: bool = False):
        flat = tf.concat([tf.reshape(normalized[name], (-1, size)) for name, size in self._sizes.items()], axis=-1)
        return critic(dict(states, normalized_actions=flat), training=training)

    def _env_actions(self, normalized):
        return {name: self._low[name] + (value + 1.0) * 0.5 * (self._high[name] - self._low[name])
                for name, value in normalized.items()}

    def _normalized(self, actions):
        return {name: 2.0 * (value - self._low[name]) / (self._high[name] - self._low[name]) - 1.0
                for name, value in actions.items()}

    # -- acting --------------------------------------------------------------

    def _act(self, states, deterministic, independent):
        if not independent and self._pending is not None:
            raise ConfigError('act: call observe() after each act() before acting again (or act with independent=True)')
        policy = self._calls['policy']({name: tf.constant(value) for name, value in states.items()})
        actions = {name: policy[name].numpy().astype(spec.dtype) for name, spec in self.actions.items()}
        if not deterministic:
            actions = self.exploration(actions, self.timesteps, independent=independent)
        if not independent:  # copied: an environment may reuse its arrays
            self._pending = ({name: np.array(value) for name, value in states.items()}, actions)
        return actions

    # -- observing and learning -----------------------------------------------

    def _update(self, steps: int) -> None:
        h = self.config
        if not self._learning_rate.is_constant:
            rate = self._learning_rate.value(self.timesteps)
            self.actor_optimizer.learning_rate.assign(rate)
            self.critic_optimizer.learning_rate.assign(rate)
        batch = self.memory.sample(steps * h.batch_size)
        shaped = lambda x, dtype=None: tf.constant(  # noqa: E731
            x.reshape((steps, h.batch_size) + x.shape[1:]), dtype)
        metrics = self._calls['train']({k: shaped(v) for k, v in batch.states.items()},
                                       {k: shaped(v, tf.float32) for k, v in batch.actions.items()},
                                       shaped(batch.rewards), shaped(batch.discounts),
                                       {k: shaped(v) for k, v in batch.next_states.items()})
        self.last_update = {key: float(value) for key, value in metrics.items()}

    def _gradient_steps(self, states, actions, rewards, discounts, next_states):
        h = self.config
        critic_variables = self.critic1.trainable_variables + self.critic2.trainable_variables
        critic_loss, actor_loss = tf.constant(0.0), tf.constant(0.0)
        for i in tf.range(tf.shape(rewards)[0]):
            batch = {name: value[i] for name, value in states.items()}
            following = {name: value[i] for name, value in next_states.items()}
            taken = self._normalized({name: value[i] for name, value in actions.items()})
            smoothed = {}
            for name, value in self.actor_target(following).items():
                noise = tf.clip_by_value(self._generator.normal(tf.shape(value)) * h.target_noise,
                                         -h.noise_clip, h.noise_clip)
                smoothed[name] = tf.clip_by_value(value + noise, -1.0, 1.0)
            next_q = tf.minimum(self._q(self.critic1_target, following, smoothed),
                                self._q(self.critic2_target, following, smoothed))
            target = tf.stop_gradient(rewards[i] + discounts[i] * next_q)
            with tf.GradientTape() as tape:
                critic_loss = (tf.reduce_mean(tf.square(self._q(self.critic1, batch, taken, True) - target))
                               + tf.reduce_mean(tf.square(self._q(self.critic2, batch, taken, True) - target)))
            self.critic_optimizer.apply_gradients(zip(tape.gradient(critic_loss, critic_variables), critic_variables))
            self.gradient_steps.assign_add(1)
            if self.gradient_steps % h.policy_delay == 0:
                with tf.GradientTape() as tape:
                    actor_loss = -tf.reduce_mean(self._q(self.critic1, batch, self.actor(batch, training=True)))
                variables = self.actor.trainable_variables
                self.actor_optimizer.apply_gradients(zip(tape.gradient(actor_loss, variables), variables))
                for online, target_model in self._pairs():
                    for target_weight, weight in zip(target_model.weights, online.weights):
                        target_weight.assign(h.tau * weight + (1.0 - h.tau) * target_weight)
        return dict(critic_loss=critic_loss, actor_loss=actor_loss)

    def reset(self) -> None:
        self._pending = None
        self.exploration.episode_start(np.ones(self.num_envs, bool))

    # -- checkpoints -----------------------------------------------------------

    def _save_weights(self, directory: str) -> None:
        for name in MODELS:
            getattr(self, name).save_weights(os.path.join(directory, f'{name}.weights.h5'))
        # The count keeps the delayed actor and target updates on schedule after a reload.
        np.savez(os.path.join(directory, COUNTERS_FILE), gradient_steps=self.gradient_steps.numpy())

    def _load_weights(self, directory: str) -> None:
        for name in MODELS:
            getattr(self, name).load_weights(os.path.join(directory, f'{name}.weights.h5'))
        with np.load(os.path.join(directory, COUNTERS_FILE), allow_pickle=False) as counters:
            self.gradient_steps.assign(int(counters['gradient_steps']))
