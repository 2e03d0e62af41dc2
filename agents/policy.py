"""`Policy`: preprocessing + network + one head per action + value, one compiled step.

The policy is what acts; learners (A2C, PPO) train its `model`, and it
runs without them (evaluation, export). One compiled call per act::

    (raw states, core state, first) -> (actions, extras, core state)

`extras` carries what learners need: the `sample` per head (what
`log_prob` takes; the unclipped Gaussian sample for a bounded float), its
`log_prob`, the `value`, and the preprocessed `states` when the policy
preprocesses. The core state is empty (``{}``) for feed-forward networks; a
recurrent core fills it, reset where `first` is true.

>>> policy = Policy(dict(state=dict(type='float', shape=(4,))), dict(action=dict(type='int', num_values=2)),
...                 num_envs=2, seed=0)
>>> actions, extras = policy.act(dict(state=np.zeros((2, 4), np.float32)))
>>> actions['action'].shape, sorted(extras)
((2,), ['log_prob', 'sample', 'value'])
"""

from __future__ import annotations

import contextlib
import random
from typing import Any, Iterator, Mapping

import numpy as np
import tensorflow as tf

from modalbridge.agents import networks
from modalbridge.agents.heads import Head, head
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, SpecLike, as_specs, is_text
from modalbridge.preprocess.stack import Stack

keras = tf.keras


def input_name(state: str) -> str:
    """The Keras / TF signature name of a state ('/' is not allowed there)."""
    return state.replace('/', '__')


def signature(specs: Mapping[str, Spec], batch: int | None = None) -> dict[str, tf.TensorSpec]:
    """Batched TensorSpecs for a dict of state specs (text as tf.string)."""
    return {name: tf.TensorSpec((batch,) + tuple(spec.shape), tf.string if is_text(spec) else spec.dtype,
                                name=input_name(name)) for name, spec in specs.items()}


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Keras draws unseeded initializer seeds from Python's `random`: seed it for the
    duration of a model build, then give the process its generator back untouched."""
    if seed is None:
        yield
        return
    saved = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved)


class Policy:
    """Preprocessing (TF backend) + network + heads + value (see the module docstring).

    `states` are the environment's raw states; with `preprocessing` the
    network sees `self.network_states` (the stack's outputs).
    """

    def __init__(self, states: Mapping[str, SpecLike], actions: Mapping[str, SpecLike], network: Any = 'auto',
                 shared_network: bool = False, preprocessing: Any = None, num_envs: int = 1,
                 seed: int | None = None, safe_mode: bool = False):
        self.states = as_specs(states, 'states')
        self.actions = as_specs(actions, 'actions')
        self.stack = (Stack(self.states, preprocessing, num_envs=num_envs, backend='tf', safe_mode=safe_mode)
                      if preprocessing is not None else None)
        self.network_states = self.stack.states if self.stack is not None else self.states
        _check_input_names(self.network_states)
        self.heads: dict[str, Head] = {name: head(spec) for name, spec in self.actions.items()}
        with seeded(seed):
            self.model = self._build_model(network, shared_network, safe_mode)
        self._generator = (tf.random.Generator.from_seed(seed) if seed is not None
                           else tf.random.Generator.from_non_deterministic_state())

        # With preprocessing, the recording step has the stack's static batch (its memory has that many
        # rows; some preprocessors need the batch size at trace time); independent steps are traced
        # once per batch size.
        self.num_envs = num_envs
        self._functions = {}
        for deterministic in (False, True):
            for update in (False, True):
                function = self._step_function(deterministic, update)
                if self.stack is None or update:
                    batch = num_envs if self.stack is not None else None
                    function = tf.function(function, input_signature=[
                        signature(self.states, batch), {}, tf.TensorSpec((batch,), tf.bool, name='first')])
                else:
                    function = tf.function(function, reduce_retracing=False)
                self._functions[deterministic, update] = function
        self._value_function = tf.function(lambda s: self.model(s)['value'],
                                           input_signature=[signature(self.network_states)])
        # Calling concrete functions skips tf.function's dispatch, about half of a call's cost here;
        # each is traced on first use.
        self._calls: dict[tuple, Any] = {}
        self._value_call = None

    def _build_model(self, network: Any, shared_network: bool, safe_mode: bool) -> keras.Model:
        """states -> dict(outputs={action: head output}, value=V(s))."""
        torso = _build_network(self.network_states, network, 'policy_network', safe_mode)
        embedding = torso.outputs[0]
        outputs = {name: h.build_layers(embedding) for name, h in self.heads.items()}
        if not shared_network:
            embedding = _build_network(self.network_states, network, 'value_network', safe_mode)(torso.input)
        value = keras.layers.Dense(1, kernel_initializer=keras.initializers.Orthogonal(1.0), name='value')(embedding)
        return keras.Model(torso.input, dict(outputs=outputs, value=keras.ops.squeeze(value, -1)), name='policy')

    # -- in TF (inside compiled functions) -------------------------------------

    def preprocess_tf(self, states: Mapping[str, tf.Tensor], update: bool = True,
                      first: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """The network's inputs from raw states (the stack's memory advances when `update`;
        environments marked `first` restart it inside this call)."""
        if self.stack is None:
            return dict(states)
        outputs = self.stack.apply_tf(dict(states), update=update, first=first)
        return {name: outputs[name] if name in outputs else states[name] for name in self.network_states}

    def distributions(self, states: Mapping[str, tf.Tensor], training: bool = False) -> tuple[dict, tf.Tensor]:
        """Each head's parameters and the value, for preprocessed states."""
        out = self.model(states, training=training)
        return {name: h.params(out['outputs'][name]) for name, h in self.heads.items()}, out['value']

    def evaluate(self, states, samples, training: bool = True) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(log_prob, entropy, value) of the samples, summed over the heads (learners' losses)."""
        params, value = self.distributions(states, training)
        log_prob = tf.add_n([h.log_prob(params[name], samples[name]) for name, h in self.heads.items()])
        entropy = tf.add_n([h.entropy(params[name]) for name, h in self.heads.items()])
        return log_prob, entropy, value

    def _step_function(self, deterministic: bool, update: bool):
        return lambda states, core_state, first: self._step(states, core_state, first, deterministic, update)

    def _step(self, states, core_state, first, deterministic: bool, update: bool):
        # Environments starting an episode restart the preprocessing memory inside this call
        # (a recurrent core would reset its state here too).
        inputs = self.preprocess_tf(states, update, first if update else None)
        params, value = self.distributions(inputs)
        actions, samples, log_probs = {}, {}, []
        for name, h in self.heads.items():
            sample = h.mode(params[name]) if deterministic else h.sample(params[name], self._generator)
            samples[name], actions[name] = sample, h.env_action(sample)
            log_probs.append(h.log_prob(params[name], sample))
        extras = dict(sample=samples, log_prob=tf.add_n(log_probs), value=value)
        if self.stack is not None:
            extras['states'] = inputs
        return actions, extras, core_state

    # -- from NumPy --------------------------------------------------------------

    def initial_state(self, batch: int) -> dict[str, np.ndarray]:
        """The core state of `batch` environments starting an episode (empty: feed-forward)."""
        return {}

    def act(self, states: Mapping[str, np.ndarray], deterministic: bool = False, update: bool = True,
            first: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Actions and extras (NumPy) for a batch of raw states; one compiled call.

        `update` advances the preprocessing memory; `first` (bool per row) marks
        environments starting an episode (their memory restarts first).
        """
        rows = len(next(iter(states.values())))
        if first is None:
            first = np.zeros(rows, bool)
        key = (deterministic, update, rows if self.stack is not None and not update else None)
        call = self._calls.get(key)
        if call is None:
            function = self._functions[deterministic, update]
            if key[2] is None:
                call = function.get_concrete_function()
            else:
                call = function.get_concrete_function(signature(self.states, rows), {},
                                                      tf.TensorSpec((rows,), tf.bool))
            self._calls[key] = call
        actions, extras, _ = call(_tensors(states), {}, tf.constant(first))
        return _numpy(actions), _numpy(extras)

    def preprocess(self, states: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The network's inputs for raw states, without advancing the preprocessing memory."""
        if self.stack is None:
            return dict(states)
        return self.stack(states, update=False)

    def value(self, states: Mapping[str, np.ndarray]) -> np.ndarray:
        """V(s) for a batch of preprocessed (network) states."""
        if self._value_call is None:
            self._value_call = self._value_function.get_concrete_function()
        return self._value_call(_tensors({name: states[name] for name in self.network_states})).numpy()

    @property
    def tracing_counts(self) -> dict[str, int]:
        """Traces of the act functions (stochastic and deterministic, recording or not): at most 1 each."""
        return {f'act{"_deterministic" if d else ""}{"" if u else "_independent"}':
                function.experimental_get_tracing_count() for (d, u), function in self._functions.items()}

    # -- export ------------------------------------------------------------------

    def export(self, path: str, batch_size: int | None = None) -> str:
        """A SavedModel: raw states -> deterministic actions, preprocessing inside.

        The stack's memory is read, not advanced (stateless preprocessing and
        running statistics export exactly; frame sequences see the memory of
        the agent's environments). `batch_size` fixes the signature's batch
        (None: any), for preprocessors that need it at trace time.
        """
        module = tf.Module()
        module.model = self.model
        module.resources = self.stack.tf_resources() if self.stack is not None else []

        @tf.function(input_signature=[signature(self.states, batch_size)])
        def serve(states):
            inputs = self.preprocess_tf(states, update=False)
            params, _ = self.distributions(inputs)
            return {name: h.env_action(h.mode(params[name])) for name, h in self.heads.items()}

        module.serve = serve
        tf.saved_model.save(module, path, signatures={'serving_default': serve})
        return path


def _build_network(states, network, name, safe_mode):
    return networks.build(states, network, name=name, safe_mode=safe_mode)


def _check_input_names(states: Mapping[str, Spec]) -> None:
    seen: dict[str, str] = {}
    for name in states:
        key = input_name(name)
        if key in seen:
            raise ConfigError(f'states: {seen[key]!r} and {name!r} both become the network input name {key!r}; '
                              'rename one of them')
        seen[key] = name


def _tensors(arrays: Mapping[str, Any]) -> dict[str, tf.Tensor]:
    return {name: tf.constant(value) for name, value in arrays.items()}


def _numpy(structure: Any) -> Any:
    if isinstance(structure, Mapping):
        return {name: _numpy(value) for name, value in structure.items()}
    return structure.numpy()
