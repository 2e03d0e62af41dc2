"""`Policy`: preprocessing + network + one head per action + value, one compiled step.

The policy is what acts; learners (A2C, PPO) train its `model`, and it
runs without them (evaluation, export). One compiled call per act::

    (raw states, core state, first) -> (actions, extras, core state)

`extras` carries what learners need: the `sample` per head (what
`log_prob` takes; the unclipped Gaussian sample for a bounded float), its
`log_prob`, the `value`, and the preprocessed `states` when the policy
preprocesses. The core state is empty (``{}``) for feed-forward networks; a
network with recurrent cells (``lstm`` / ``gru`` on one vector per step,
``'auto'``'s ``rnn``, a cell plug-in: see `networks`) fills it, one
``(batch, size)`` float32 array per cell state, restarted to its initial
value where `first` is true, inside the same call. It travels as tensors
through the step (no TF variables per environment), so any caller can carry
it: the agent per environment, or an application (``act(...,
core_state=...)``).

>>> policy = Policy(dict(state=dict(type='float', shape=(4,))), dict(action=dict(type='int', num_values=2)),
...                 num_envs=2, seed=0)
>>> actions, extras = policy.act(dict(state=np.zeros((2, 4), np.float32)))
>>> actions['action'].shape, sorted(extras)
((2,), ['log_prob', 'sample', 'value'])
>>> recurrent = Policy(dict(state=dict(type='float', shape=(4,))), dict(action=dict(type='int', num_values=2)),
...                    network=[dict(type='lstm', size=8)], shared_network=True, num_envs=2, seed=0)
>>> core = recurrent.initial_state(2)
>>> sorted(core), core['policy_network_core0'].shape  # the LSTM's h and c
(['policy_network_core0', 'policy_network_core1'], (2, 8))
>>> actions, extras = recurrent.act(dict(state=np.ones((2, 4), np.float32)), core_state=core,
...                                 first=np.array([True, False]))
>>> extras['core_state']['policy_network_core0'].shape
(2, 8)
"""

from __future__ import annotations

import contextlib
import random
import warnings
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import numpy as np
import tensorflow as tf

from modalbridge.agents import networks
from modalbridge.agents.heads import Head, head
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, SpecLike, as_specs, is_text
from modalbridge.preprocess.stack import Stack

if TYPE_CHECKING:  # the module, so that keras.Model is a type to the checker
    import keras
else:
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
        _check_head_names(self.heads)
        with seeded(seed):
            self.model = self._build_model(network, shared_network, safe_mode)
        self._generator = (tf.random.Generator.from_seed(seed) if seed is not None
                           else tf.random.Generator.from_non_deterministic_state())

        # With preprocessing, the recording step has the stack's static batch (its memory has that many
        # rows; some preprocessors need the batch size at trace time); independent steps are traced
        # once per batch size. Independent steps come with the extras or without (acting only: TF
        # prunes what only the extras need, the value network among it).
        self.num_envs = num_envs
        self._functions = {}
        for deterministic in (False, True):
            for update, extras in ((False, False), (False, True), (True, True)):
                function = self._step_function(deterministic, update, extras)
                if self.stack is None or update:
                    batch = num_envs if self.stack is not None else None
                    function = tf.function(function, input_signature=[
                        signature(self.states, batch), self.core_signature(batch),
                        tf.TensorSpec((batch,), tf.bool, name='first')])
                else:
                    function = tf.function(function, reduce_retracing=False)
                self._functions[deterministic, update, extras] = function
        self._value_function = tf.function(lambda s, c: self.model({**s, **c})['value'],
                                           input_signature=[signature(self.network_states), self.core_signature()])
        # Calling concrete functions skips tf.function's dispatch, about half of a call's cost here;
        # each is traced on first use.
        self._calls: dict[tuple, Any] = {}
        self._value_call: Any = None  # the concrete function, traced on first use
        self._no_first: dict[int, tf.Tensor] = {}  # per batch size: no environment starts an episode

    def _build_model(self, network: Any, shared_network: bool, safe_mode: bool) -> keras.Model:
        """states (+ core state) -> dict(outputs={action: head output}, value=V(s)[, core={key: new state}])."""
        self.core_initial: dict[str, np.ndarray] = {}
        torso = _build_network(self.network_states, network, 'policy_network', safe_mode)
        inputs = dict(torso.input)
        embedding, core = _unpack(torso, self.core_initial)
        outputs = {name: h.build_layers(embedding) for name, h in self.heads.items()}
        frontier = list(getattr(torso, 'core_cell_inputs', []))
        states = {name: inputs[name] for name in self.network_states}
        if not shared_network and core:  # built on the same inputs, so that its cells' inputs are in this graph
            critic = _build_network(self.network_states, network, 'value_network', safe_mode, states)
            inputs.update({key: tensor for key, tensor in critic.input.items() if key not in inputs})
            embedding, value_core = _unpack(critic, self.core_initial)
            core.update(value_core)
            frontier += critic.core_cell_inputs
        elif not shared_network:
            embedding, _ = _unpack(_build_network(self.network_states, network, 'value_network', safe_mode),
                                   self.core_initial, inputs)
        value = keras.layers.Dense(1, kernel_initializer=keras.initializers.Orthogonal(1.0), name='value')(embedding)
        result = dict(outputs=outputs, value=keras.ops.squeeze(value, -1))
        self._encoder = self._recurrence = None
        if core:
            result['core'] = core
            self._split(states, frontier, inputs, result)
        return keras.Model(inputs, result, name='policy')

    def _split(self, states, frontier, inputs, result) -> None:
        """When everything after the cells' inputs depends on them and the core state only, the encoder
        (states -> cell inputs) runs once over a whole sequence and only the rest is unrolled."""
        core_inputs = [inputs[key] for key in self.core_initial]
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # Keras warns about models on intermediate tensors
            try:
                self._recurrence = keras.Model([*frontier, *core_inputs], result, name='recurrence')
            except ValueError:  # something after a cell reads a state directly: unroll the whole model
                return
            self._encoder = keras.Model(states, frontier, name='encoder')

    @property
    def recurrent(self) -> bool:
        """Whether the network carries a core state across steps."""
        return bool(self.core_initial)

    def core_signature(self, batch: int | None = None) -> dict[str, tf.TensorSpec]:
        return {key: tf.TensorSpec((batch, len(value)), tf.float32, name=key)
                for key, value in self.core_initial.items()}

    def reset_core(self, core_state: Mapping[str, tf.Tensor], first: tf.Tensor) -> dict[str, tf.Tensor]:
        """The core state with the rows of environments starting an episode set to the initial value."""
        return {key: tf.where(first[:, None], tf.constant(self.core_initial[key])[None], value)
                for key, value in core_state.items()}

    # -- in TF (inside compiled functions) -------------------------------------

    def preprocess_tf(self, states: Mapping[str, tf.Tensor], update: bool = True,
                      first: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """The network's inputs from raw states (the stack's memory advances when `update`;
        environments marked `first` restart it inside this call)."""
        if self.stack is None:
            return dict(states)
        outputs = self.stack.apply_tf(dict(states), update=update, first=first)
        return {name: outputs[name] if name in outputs else states[name] for name in self.network_states}

    def distributions(self, states: Mapping[str, tf.Tensor], training: bool = False,
                      core_state: Mapping[str, tf.Tensor] | None = None) -> tuple[dict, tf.Tensor]:
        """Each head's parameters and the value, for preprocessed states (and the core state,
        which must be given to a recurrent policy; its new value is in `self.last_core`)."""
        out = self.model({**states, **(core_state or {})}, training=training)
        self.last_core = out.get('core', {})
        return {name: h.params(out['outputs'][name]) for name, h in self.heads.items()}, out['value']

    def unroll(self, states, core_state, first, training: bool = True) -> tuple[dict, tf.Tensor]:
        """Truncated BPTT: the model over ``(steps, envs, ...)`` preprocessed states from the
        segment's initial core state, resetting it where `first` ``(steps, envs)`` is true;
        the outputs flattened to ``(steps * envs, ...)``, as `distributions` returns them."""
        if self._encoder is not None:  # the encoders in one batch over all steps, only the rest unrolled
            shape = tf.shape(first)
            flat = {k: tf.reshape(v, tf.concat([[-1], tf.shape(v)[2:]], 0)) for k, v in states.items()}
            encoded = self._encoder(flat, training=training)
            encoded = encoded if isinstance(encoded, (list, tuple)) else [encoded]  # one cell: one tensor
            states = [tf.reshape(e, tf.concat([shape, tf.shape(e)[1:]], 0)) for e in encoded]
            keys = list(self.core_initial)

            def call(states_t, core):
                return self._recurrence([*states_t, *(core[key] for key in keys)], training=training)
        else:
            def call(states_t, core):
                return self.model({**states_t, **core}, training=training)

        def step(core, inputs):
            states_t, first_t = inputs
            out = call(states_t, self.reset_core(core, first_t))
            return out['core'], dict(outputs=out['outputs'], value=out['value'])

        def at(index):
            return ([v[index] for v in states] if isinstance(states, list)
                    else {k: v[index] for k, v in states.items()})

        core, out0 = step(dict(core_state), (at(0), first[0]))
        if first.shape[0] == 1:  # tf.scan cannot stack zero steps of unknown batch
            outs = tf.nest.map_structure(lambda a: a[None], out0)
        else:
            rest = (at(slice(1, None)), first[1:])
            _, outs = tf.scan(lambda carry, inputs: step(carry[0], inputs), rest, initializer=(core, out0))
            outs = tf.nest.map_structure(lambda a, b: tf.concat([a[None], b], 0), out0, outs)
        outs = tf.nest.map_structure(lambda a: tf.reshape(a, tf.concat([[-1], tf.shape(a)[2:]], 0)), outs)
        return {name: h.params(outs['outputs'][name]) for name, h in self.heads.items()}, outs['value']

    def evaluate(self, states, samples, training: bool = True, core_state=None,
                 first=None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(log_prob, entropy, value) of the samples, summed over the heads (learners' losses).

        A recurrent policy takes ``(steps, envs, ...)`` states, the segment's
        initial `core_state` and `first`, and unrolls (`unroll`); samples and
        results are then flat ``(steps * envs)``.
        """
        if self.recurrent:
            params, value = self.unroll(states, core_state, first, training)
        else:
            params, value = self.distributions(states, training)
        log_prob = tf.add_n([h.log_prob(params[name], samples[name]) for name, h in self.heads.items()])
        entropy = tf.add_n([h.entropy(params[name]) for name, h in self.heads.items()])
        return log_prob, entropy, value

    def _step_function(self, deterministic: bool, update: bool, extras: bool = True):
        return lambda states, core_state, first: self._step(states, core_state, first, deterministic, update,
                                                            extras)

    def _step(self, states, core_state, first, deterministic: bool, update: bool, with_extras: bool = True):
        # Environments starting an episode restart the preprocessing memory inside this call
        # and recurrent cells restart their core state.
        inputs = self.preprocess_tf(states, update, first if update else None)
        core_state = self.reset_core(core_state, first)
        params, value = self.distributions(inputs, core_state=core_state)
        actions, samples, log_probs = {}, {}, []
        for name, h in self.heads.items():
            sample = h.mode(params[name]) if deterministic else h.sample(params[name], self._generator)
            samples[name], actions[name] = sample, h.env_action(sample)
            log_probs.append(h.log_prob(params[name], sample))
        if not with_extras:
            return actions, {}, self.last_core
        extras = dict(sample=samples, log_prob=tf.add_n(log_probs), value=value)
        if self.stack is not None:
            extras['states'] = inputs
        return actions, extras, self.last_core

    # -- from NumPy --------------------------------------------------------------

    def initial_state(self, batch: int) -> dict[str, np.ndarray]:
        """The core state of `batch` environments starting an episode (empty: feed-forward)."""
        return {key: np.tile(value, (batch, 1)) for key, value in self.core_initial.items()}

    def act(self, states: Mapping[str, np.ndarray], deterministic: bool = False, update: bool = True,
            first: np.ndarray | None = None,
            core_state: Mapping[str, np.ndarray] | None = None,
            with_extras: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Actions and extras (NumPy) for a batch of raw states; one compiled call.

        `update` advances the preprocessing memory; `first` (bool per row) marks
        environments starting an episode (their memory and core state restart
        first). A recurrent policy takes the `core_state` of the rows (None:
        the initial one) and returns the next in ``extras['core_state']``.
        Without `with_extras` (independent acts only) the extras hold nothing
        but a recurrent policy's core state: a step traced for acting only.
        """
        rows = len(next(iter(states.values())))
        if first is None:  # the same tensor every call (converting an array costs ~20 us)
            first = self._no_first.get(rows)
            if first is None:
                first = self._no_first[rows] = tf.zeros((rows,), tf.bool)
        if core_state is None:
            core_state = self.initial_state(rows)
        with_extras = with_extras or update
        key = (deterministic, update, with_extras, rows if self.stack is not None and not update else None)
        call = self._calls.get(key)
        if call is None:
            function = self._functions[deterministic, update, with_extras]
            if key[3] is None:
                call = function.get_concrete_function()
            else:
                call = function.get_concrete_function(signature(self.states, rows), self.core_signature(rows),
                                                      tf.TensorSpec((rows,), tf.bool))
            call = self._calls[key] = FlatCall(call)
        actions, extras, core = call(dict(states), dict(core_state), first)
        extras = _numpy(extras)
        if self.recurrent:
            extras['core_state'] = _numpy(core)
        return _numpy(actions), extras

    def preprocess(self, states: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The network's inputs for raw states, without advancing the preprocessing memory."""
        if self.stack is None:
            return dict(states)
        return self.stack(states, update=False)

    def value(self, states: Mapping[str, np.ndarray],
              core_state: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """V(s) for a batch of preprocessed (network) states (a recurrent policy: with the
        core state reached at those states; None: the initial one)."""
        if self._value_call is None:
            self._value_call = FlatCall(self._value_function.get_concrete_function())
        if core_state is None:
            core_state = self.initial_state(len(next(iter(states.values()))))
        return self._value_call({name: states[name] for name in self.network_states}, dict(core_state)).numpy()

    @property
    def tracing_counts(self) -> dict[str, int]:
        """Traces of the act functions (stochastic and deterministic, recording or not, independent
        with or without the extras): at most 1 each."""
        return {f'act{"_deterministic" if d else ""}{"" if u else "_independent"}{"_extras" if e and not u else ""}':
                function.experimental_get_tracing_count() for (d, u, e), function in self._functions.items()}

    # -- export ------------------------------------------------------------------

    def export(self, path: str, batch_size: int | None = None) -> str:
        """A SavedModel: raw states -> deterministic actions, preprocessing inside.

        A recurrent policy's signature also takes the core state (inputs named
        by its keys) and `first` (bool per row, restarting it), and returns the
        next one beside the actions as ``'core_state/<key>'``; the initial
        value is the module's `initial_state`.

        The stack's memory is read, not advanced (stateless preprocessing and
        running statistics export exactly; frame sequences see the memory of
        the agent's environments). `batch_size` fixes the signature's batch
        (None: any), for preprocessors that need it at trace time.
        """
        module = tf.Module()
        module.model = self.model
        module.resources = self.stack.tf_resources() if self.stack is not None else []

        if self.recurrent:
            # The core state goes in and comes out (as 'core_state/<key>'), reset where `first` is true.
            @tf.function(input_signature=[signature(self.states, batch_size), self.core_signature(batch_size),
                                          tf.TensorSpec((batch_size,), tf.bool, name='first')])
            def serve(states, core_state, first):
                inputs = self.preprocess_tf(states, update=False)
                params, _ = self.distributions(inputs, core_state=self.reset_core(core_state, first))
                actions = {name: h.env_action(h.mode(params[name])) for name, h in self.heads.items()}
                return {**actions, **{f'core_state/{key}': value for key, value in self.last_core.items()}}

            module.initial_state = {key: tf.constant(value) for key, value in self.core_initial.items()}
        else:
            @tf.function(input_signature=[signature(self.states, batch_size)])
            def serve(states):
                inputs = self.preprocess_tf(states, update=False)
                params, _ = self.distributions(inputs)
                return {name: h.env_action(h.mode(params[name])) for name, h in self.heads.items()}

        module.serve = serve
        tf.saved_model.save(module, path, signatures={'serving_default': serve})
        return path


class FlatCall:
    """A concrete function called on its flattened inputs.

    A concrete function's own call binds its arguments to the signature in
    Python, about 170 us a call here: as much as the rest of an act. When
    every input already has the signature's dtype and shape (what the
    agents pass: validated NumPy arrays), this converts each to a tensor and
    calls the function's flat entry point; anything else takes the
    structured call, which converts or refuses it as before.

    >>> square = tf.function(lambda x: dict(y=x * x), input_signature=[tf.TensorSpec((None,), tf.float32)])
    >>> call = FlatCall(square.get_concrete_function())
    >>> call(np.array([3.0], np.float32))['y'].numpy().tolist()
    [9.0]
    >>> call(np.array([2], np.int32))['y'].numpy().tolist()  # not the signature's dtype: the structured call
    [4.0]
    """

    def __init__(self, function: Any):
        self.function = function
        inputs = tf.nest.flatten(function.structured_input_signature[0], expand_composites=True)
        self._inputs = [(spec.dtype, np.dtype(object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype),
                         tuple(spec.shape.as_list())) for spec in inputs]

    def __call__(self, *args: Any) -> Any:
        """The function's result on `args` (NumPy arrays or eager tensors, nested as its signature)."""
        flat = tf.nest.flatten(args)
        if len(flat) == len(self._inputs) and all(map(_matches, flat, self._inputs)):
            tensors = [value if isinstance(value, tf.Tensor) else tf.constant(value) for value in flat]
            return self.function._call_flat(tensors, self.function.captured_inputs)  # noqa: SLF001
        return self.function(*args)


def _matches(value: Any, expected: tuple[tf.DType, np.dtype, tuple]) -> bool:
    """Whether an array or eager tensor has the dtype and a shape compatible with `expected` (None: any size)."""
    tf_dtype, dtype, shape = expected
    if type(value) is np.ndarray:
        if value.dtype != dtype:
            return False
    elif not (isinstance(value, tf.Tensor) and value.dtype == tf_dtype):
        return False
    actual = tuple(value.shape)
    return len(actual) == len(shape) and all(size is None or size == got for size, got in zip(shape, actual))


def _build_network(states, network, name, safe_mode, inputs=None):
    return networks.build(states, network, name=name, safe_mode=safe_mode, memory=True, inputs=inputs)


def _unpack(network: keras.Model, initial: dict, inputs: Mapping[str, Any] | None = None) -> tuple[Any, dict]:
    """(embedding, {key: new core state}) of a network; called on `inputs` when given, else its own."""
    recurrent = hasattr(network, 'core_initial')
    if recurrent:
        initial.update(network.core_initial)
    if inputs is None:
        output = network.output
    else:
        output = network({key: inputs[key] for key in network.input})
    return (output[0], dict(output[1])) if recurrent else (output, {})


def _check_head_names(heads: Mapping[str, Head]) -> None:
    seen: dict[str, str] = {}
    for name, h in heads.items():
        if h.name in seen:
            raise ConfigError(f'actions: {seen[h.name]!r} and {name!r} both become the head layer name {h.name!r}; '
                              'rename one of them')
        seen[h.name] = name


def _check_input_names(states: Mapping[str, Spec]) -> None:
    seen: dict[str, str] = {}
    for name in states:
        key = input_name(name)
        if key in seen:
            raise ConfigError(f'states: {seen[key]!r} and {name!r} both become the network input name {key!r}; '
                              'rename one of them')
        seen[key] = name


def _numpy(structure: Any) -> Any:
    if isinstance(structure, Mapping):
        return {name: _numpy(value) for name, value in structure.items()}
    return structure.numpy()
