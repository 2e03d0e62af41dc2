"""DQN (double, optionally dueling) on a replay memory, in one place.

The algorithm, top to bottom:

1. `act(states)` runs the Q-network once (a compiled function) and takes,
   per action, the action of largest Q; the exploration declared in the
   config (epsilon decay by default) then replaces some of them (NumPy,
   never when ``deterministic=True``).
2. `observe(reward, terminal, final_states)` writes the step into a
   `ReplayMemory` (frames stored once; `final_states` are the states to
   bootstrap from where an episode was TRUNCATED).
3. Once `first_update` timesteps were taken, every `update_frequency`
   timesteps, `repeat_update` gradient steps run in ONE compiled call, on
   batches of `batch_size` n-step transitions sampled together. Each step
   minimizes the Huber loss of the TD error, per action head::

       a* = argmax_a Q(s', a)                         double DQN (Q' without double_q)
       y  = R + discounts * Q'(s', a*)                discounts = discount**n, 0 if TERMINATED
       loss = mean(weights * huber(y - Q(s, a)))      weights: prioritized replay's importance

   with the gradient's global norm clipped to `max_grad_norm`. Every
   `target_update_frequency` gradient steps the target network Q' moves to
   ``tau * Q + (1 - tau) * Q'`` (``tau=1``: a hard copy).

Several discrete actions get one Q head each on the shared torso, each with
its own target from the shared reward (action branching, Tavakoli et al. 2018).
A dueling head is ``V(s) + A(s, a) - mean_a A(s, a)``.

>>> from modalbridge.bridges import GymBridge
>>> env = GymBridge('CartPole-v1')
>>> agent = DQN(env.states, env.actions, memory_capacity=50_000, first_update=1000, seed=0)
>>> step = env.execute(agent.act(env.reset(seed=0)))
>>> agent.observe(step.reward, step.terminal), len(agent.memory)
(False, 1)
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
from modalbridge.bridges.specs import SpecLike, describe

if TYPE_CHECKING:  # the module, so that keras.Model is a type to the checker
    import keras
else:
    keras = tf.keras
WEIGHTS_FILE = 'weights.weights.h5'
TARGET_FILE = 'target.weights.h5'
COUNTERS_FILE = 'counters.npz'
EPSILON = dict(type='epsilon_decay', epsilon=1.0, epsilon_final=0.05, epsilon_timesteps=10_000)


@dataclasses.dataclass(frozen=True)
class DQNConfig(AgentConfig):
    """DQN's hyperparameters (with `num_envs` and `seed` from `AgentConfig`); names follow
    TensorForce where it has one. Defaults: SB3's DQN.

    >>> config = DQNConfig(batch_size=8, learning_rate=0.001, memory_capacity=800, first_update=80,
    ...                    repeat_update=4, target_update_frequency=20)
    >>> DQNConfig.from_dict(config.to_dict()) == config
    True
    """

    network: Any = 'auto'                 # the torso: 'auto', layer dicts, a JSON path or a builder
    memory_capacity: int = 100_000        # transitions held by the replay memory
    first_update: int = 1_000             # timesteps before the first update
    update_frequency: int = 4             # timesteps between updates
    repeat_update: int = 1                # gradient steps per update
    target_update_frequency: int = 1_000  # gradient steps between target network updates
    tau: float = 1.0                      # target update weight (1: hard copy; < 1: soft, Polyak)
    batch_size: int = 32                  # transitions per gradient step
    learning_rate: Any = 1e-4             # Adam's learning rate: a number or a schedule over timesteps
    discount: float = 0.99
    n_step: int = 1                       # n-step returns
    double_q: bool = True                 # double DQN: the online network picks the next action
    dueling: bool = False                 # dueling heads: V(s) + A(s, a) - mean A
    huber_delta: float = 1.0              # the Huber loss's quadratic zone
    max_grad_norm: float = 10.0           # global gradient norm clip
    exploration: Any = dataclasses.field(default_factory=lambda: dict(EPSILON))  # see agents.exploration
    prioritized: bool = False             # proportional prioritized replay
    priority_alpha: float = 0.6
    priority_beta: Any = 0.4              # importance exponent: a number or a schedule over timesteps
    frame_stacks: Any = None              # state name -> frames stacked on its last axis (stored once)

    def __post_init__(self) -> None:
        super().__post_init__()
        check = {
            'memory_capacity': lambda v: arguments.integer('memory_capacity', v, minimum=1),
            'first_update': lambda v: arguments.integer('first_update', v, minimum=0),
            'update_frequency': lambda v: arguments.integer('update_frequency', v, minimum=1),
            'repeat_update': lambda v: arguments.integer('repeat_update', v, minimum=1),
            'target_update_frequency': lambda v: arguments.integer('target_update_frequency', v, minimum=1),
            'tau': _tau,
            'batch_size': lambda v: arguments.integer('batch_size', v, minimum=1),
            'discount': lambda v: arguments.number('discount', v, 0, 1),
            'n_step': lambda v: arguments.integer('n_step', v, minimum=1),
            'double_q': lambda v: arguments.boolean('double_q', v),
            'dueling': lambda v: arguments.boolean('dueling', v),
            'huber_delta': lambda v: arguments.number('huber_delta', v, 0, inclusive=False),
            'max_grad_norm': lambda v: arguments.number('max_grad_norm', v, 0, inclusive=False),
            'prioritized': lambda v: arguments.boolean('prioritized', v),
            'priority_alpha': lambda v: arguments.number('priority_alpha', v, 0),
        }
        for name, checker in check.items():
            object.__setattr__(self, name, checker(getattr(self, name)))
        rate = schedules.schedule(self.learning_rate, 'learning_rate')
        if rate.is_constant:
            arguments.number('learning_rate', rate.value(0), 0, inclusive=False)
        beta = schedules.schedule(self.priority_beta, 'priority_beta')
        if beta.is_constant:
            arguments.number('priority_beta', beta.value(0), 0, 1)
        if self.frame_stacks is not None and not isinstance(self.frame_stacks, Mapping):
            raise ConfigError(f'frame_stacks: expected a dict of state name -> length; received {self.frame_stacks!r}')
        object.__setattr__(self, 'learning_rate', rate.to_dict())
        object.__setattr__(self, 'priority_beta', beta.to_dict())


def _tau(value: Any) -> float:
    value = arguments.number('tau', value, 0, 1)
    if value == 0:
        raise ConfigError('tau: expected a finite number in (0, 1]; received 0.0 (the target would never move)')
    return value


def huber(x: tf.Tensor, delta: float) -> tf.Tensor:
    absolute = tf.abs(x)
    return tf.where(absolute <= delta, 0.5 * tf.square(x), delta * (absolute - 0.5 * delta))


class DQN(OffPolicyAgent):
    """Double DQN over `num_envs` environments (see the module docstring); its keyword
    arguments are `DQNConfig`'s fields, or `config=` a whole `DQNConfig`.

    >>> agent = DQN(dict(state=dict(type='float', shape=(2,))), dict(action=dict(type='int', num_values=3)),
    ...             parallel=2, batch_size=8, memory_capacity=800, first_update=80, repeat_update=4,
    ...             target_update_frequency=20, seed=0)
    >>> agent.num_envs, agent.config.target_update_frequency
    (2, 20)
    >>> agent.act(dict(state=np.zeros((2, 2), np.float32)), deterministic=True)['action'].shape
    (2,)
    """

    Config: ClassVar[type[DQNConfig]] = DQNConfig
    config: DQNConfig

    def __init__(self, states: Mapping[str, SpecLike], actions: Mapping[str, SpecLike], parallel: int | None = None,
                 config: DQNConfig | None = None, safe_mode: bool = False, **fields: Any):
        super().__init__(states, actions, parallel, config=config, **fields)
        self.config: DQNConfig
        for name, spec in self.actions.items():
            if spec.shape != () or not hasattr(spec, 'num_values'):
                raise ConfigError(f'actions[{name!r}]: DQN takes scalar discrete actions (num_values=...); '
                                  f'received {describe(spec)}')
        h = self.config
        if h.seed is not None:
            keras.utils.set_random_seed(h.seed)
        memory_rng, exploration_rng = np.random.default_rng(h.seed).spawn(2)
        self.exploration = Exploration(h.exploration, self.actions, self.num_envs, exploration_rng)
        self.memory = ReplayMemory(self.states, self.actions, h.memory_capacity, self.num_envs, h.frame_stacks,
                                   h.n_step, h.discount, h.prioritized, h.priority_alpha, seed=memory_rng)
        self._learning_rate = schedules.schedule(h.learning_rate, 'learning_rate')
        self._beta = schedules.schedule(h.priority_beta, 'priority_beta')

        # The Q-network: states -> torso -> one Q head per action; the target network is a second copy.
        self.model = self._q_network('q_network', safe_mode)
        self.target_model = self._q_network('target_network', safe_mode)
        self.target_model.set_weights(self.model.get_weights())
        self.optimizer = keras.optimizers.Adam(self._learning_rate.value(0))
        self.optimizer.build(self.model.trainable_variables)
        self.gradient_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name='gradient_steps')

        state_signature = {name: tf.TensorSpec((None,) + spec.shape, spec.dtype, name=name.replace('/', '__'))
                           for name, spec in self.states.items()}
        repeated = {name: tf.TensorSpec((None, None) + spec.shape, spec.dtype, name=name.replace('/', '__'))
                    for name, spec in self.states.items()}
        pairs = tf.TensorSpec((None, None), tf.float32)
        action_signature = {name: tf.TensorSpec((None, None), tf.int64) for name in self.actions}
        self._greedy = tf.function(self._greedy_actions, input_signature=[state_signature])
        self._q_values = tf.function(lambda s: self.model(s), input_signature=[state_signature])
        self._train = tf.function(self._gradient_steps,
                                  input_signature=[repeated, action_signature, pairs, pairs, repeated, pairs])
        # Concrete functions skip tf.function's dispatch, about half of a call's cost here.
        self._calls = dict(greedy=self._greedy.get_concrete_function(),
                           q=self._q_values.get_concrete_function(),
                           train=self._train.get_concrete_function())
        self._pending: tuple[dict, dict] | None = None
        self.last_update: dict[str, Any] = {}

    @classmethod
    def _from_checkpoint(cls, states, actions, config, safe_mode):
        return cls(states, actions, safe_mode=safe_mode, **config)

    def _q_network(self, name: str, safe_mode: bool) -> keras.Model:
        torso = networks.build(self.states, self.config.network, name=f'{name}_torso', safe_mode=safe_mode)
        embedding = torso.outputs[0]
        outputs = {}
        for action, spec in self.actions.items():
            count = int(spec.num_values)
            if self.config.dueling:
                value = keras.layers.Dense(1, name=f'{action}_value')(embedding)
                advantage = keras.layers.Dense(count, name=f'{action}_advantage')(embedding)
                outputs[action] = value + advantage - keras.ops.mean(advantage, axis=-1, keepdims=True)
            else:
                outputs[action] = keras.layers.Dense(count, name=f'{action}_q')(embedding)
        return keras.Model(torso.input, outputs, name=name)

    # -- acting --------------------------------------------------------------

    def _greedy_actions(self, states):
        return {name: tf.argmax(q, axis=-1) for name, q in self.model(states).items()}

    def _act(self, states, deterministic, independent):
        if not independent and self._pending is not None:
            raise ConfigError('act: call observe() after each act() before acting again (or act with independent=True)')
        greedy = self._calls['greedy'](_tensors(states))
        actions = {name: greedy[name].numpy().astype(spec.dtype) for name, spec in self.actions.items()}
        if not deterministic:
            actions = self.exploration(actions, self.timesteps, independent=independent)
        if not independent:  # copied: an environment may reuse its arrays
            self._pending = ({name: np.array(value) for name, value in states.items()}, actions)
        return actions

    def q_values(self, states: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Q(s, .) per action for a batch (or one) of states."""
        batch, single = self._batch(states)
        q = {name: value.numpy() for name, value in self._calls['q'](_tensors(batch)).items()}
        return {name: value[0] for name, value in q.items()} if single else q

    # -- observing and learning -----------------------------------------------

    def _update(self, steps: int) -> None:
        h = self.config
        if not self._learning_rate.is_constant:
            self.optimizer.learning_rate.assign(self._learning_rate.value(self.timesteps))
        batch = self.memory.sample(steps * h.batch_size, self._beta.value(self.timesteps))
        shaped = lambda x: tf.constant(x.reshape((steps, h.batch_size) + x.shape[1:]))  # noqa: E731
        metrics = self._calls['train']({k: shaped(v) for k, v in batch.states.items()},
                                       {k: shaped(v.astype(np.int64)) for k, v in batch.actions.items()},
                                       shaped(batch.rewards), shaped(batch.discounts),
                                       {k: shaped(v) for k, v in batch.next_states.items()}, shaped(batch.weights))
        td_errors = metrics['td_errors'].numpy().reshape(-1)
        if h.prioritized:
            self.memory.update_priorities(batch.indices, td_errors)
        self.last_update = dict(loss=float(metrics['loss']), grad_norm=float(metrics['grad_norm']),
                                gradient_steps=int(self.gradient_steps.numpy()), td_errors=td_errors)

    def _targets(self, next_states, rewards, discounts):
        """y = R + discounts * Q'(s', a*) per action head, a* = argmax Q(s', .) (double) or of Q'."""
        target_q = self.target_model(next_states)
        online_q = self.model(next_states) if self.config.double_q else target_q
        targets = {}
        for name in self.actions:
            best = tf.argmax(online_q[name], axis=-1)
            next_q = tf.gather(target_q[name], best, axis=-1, batch_dims=1)
            targets[name] = rewards + discounts * next_q
        return targets

    def _gradient_steps(self, states, actions, rewards, discounts, next_states, weights):
        """`repeat` gradient steps, inputs shaped (repeat, batch, ...); target updates on schedule."""
        h = self.config
        steps = tf.shape(rewards)[0]
        td_errors = tf.TensorArray(tf.float32, size=steps)
        loss, norm = tf.constant(0.0), tf.constant(0.0)
        variables = self.model.trainable_variables
        for i in tf.range(steps):
            batch = {name: value[i] for name, value in states.items()}
            targets = tf.nest.map_structure(tf.stop_gradient, self._targets(
                {name: value[i] for name, value in next_states.items()}, rewards[i], discounts[i]))
            with tf.GradientTape() as tape:
                q = self.model(batch, training=True)
                errors = [targets[name] - tf.gather(q[name], actions[name][i], axis=-1, batch_dims=1)
                          for name in self.actions]
                loss = tf.add_n([tf.reduce_mean(weights[i] * huber(e, h.huber_delta)) for e in errors]) / len(errors)
            gradients, norm = tf.clip_by_global_norm(tape.gradient(loss, variables), h.max_grad_norm)
            self.optimizer.apply_gradients(zip(gradients, variables))
            td_errors = td_errors.write(i, tf.add_n(errors) / len(errors))
            self.gradient_steps.assign_add(1)
            if self.gradient_steps % h.target_update_frequency == 0:
                for target, online in zip(self.target_model.weights, self.model.weights):
                    target.assign(h.tau * online + (1.0 - h.tau) * target)
        return dict(loss=loss, grad_norm=norm, td_errors=td_errors.stack())

    def reset(self) -> None:
        self._pending = None
        self.exploration.episode_start(np.ones(self.num_envs, bool))

    # -- checkpoints -----------------------------------------------------------

    def _save_weights(self, directory: str) -> None:
        self.model.save_weights(os.path.join(directory, WEIGHTS_FILE))
        self.target_model.save_weights(os.path.join(directory, TARGET_FILE))
        # The count keeps the target updates on schedule after a reload.
        np.savez(os.path.join(directory, COUNTERS_FILE), gradient_steps=self.gradient_steps.numpy())

    def _load_weights(self, directory: str) -> None:
        self.model.load_weights(os.path.join(directory, WEIGHTS_FILE))
        self.target_model.load_weights(os.path.join(directory, TARGET_FILE))
        with np.load(os.path.join(directory, COUNTERS_FILE), allow_pickle=False) as counters:
            self.gradient_steps.assign(int(counters['gradient_steps']))

    @property
    def tracing_counts(self) -> dict[str, int]:
        """Traces of the compiled functions (each 1 after any number of calls)."""
        return dict(act=self._greedy.experimental_get_tracing_count(),
                    update=self._train.experimental_get_tracing_count())


def _tensors(arrays: Mapping[str, np.ndarray]) -> dict[str, tf.Tensor]:
    return {name: tf.constant(value) for name, value in arrays.items()}
