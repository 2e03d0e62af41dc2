"""Keras optimizers as PyTorch-based baselines configure them, applied through TF's fused kernels.

`optimizer(kind)` builds the Keras optimizer; `FusedApply(optimizer,
variables)` applies gradients inside a compiled step with that optimizer's
own state (its moments, its `iterations`), one fused training kernel per
variable (``ResourceApplyAdam``, ``ResourceApplyRMSProp``,
``ResourceApplyGradientDescent``) instead of the dozen element-wise ops per
variable Keras's `apply_gradients` runs: about a fifth of a small network's
gradient step here. The arithmetic is Keras's own (same formulas, the
epsilon where Keras puts it), so the results agree with `apply_gradients` to
float rounding; an optimizer it does not know falls back to
`apply_gradients`.

>>> import tensorflow as tf
>>> variable = tf.keras.Variable([1.0, 2.0])
>>> adam = optimizer('adam')
>>> adam.build([variable])
>>> apply = FusedApply(adam, [variable])
>>> apply([tf.constant([0.5, -0.5])])
>>> [round(float(v), 4) for v in variable.numpy()], int(adam.iterations)
([0.999, 2.001], 1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import tensorflow as tf

if TYPE_CHECKING:  # the module, so that keras.Model is a type to the checker
    import keras
else:
    keras = tf.keras


def optimizer(kind: str, epsilon: float | None = None) -> keras.optimizers.Optimizer:
    """Keras optimizers as PyTorch-based baselines configure them (learning rate set per update)."""
    if kind == 'rmsprop':
        # Keras adds RMSprop's epsilon inside the square root, PyTorch (and SB3) outside: 1e-10 inside ~ 1e-5 outside.
        return keras.optimizers.RMSprop(1e-3, rho=0.99, epsilon=1e-10 if epsilon is None else epsilon)
    if kind == 'adam':
        return keras.optimizers.Adam(1e-3, epsilon=1e-5 if epsilon is None else epsilon)
    return keras.optimizers.SGD(1e-3)


def _plain(optimizer: keras.optimizers.Optimizer) -> bool:
    """No option that the fused kernels leave out (weight decay, EMA, clipping, accumulation, loss scaling)."""
    return not (optimizer.weight_decay or optimizer.use_ema or optimizer.clipnorm or optimizer.clipvalue
                or optimizer.global_clipnorm or optimizer.gradient_accumulation_steps
                or optimizer.loss_scale_factor)


class FusedApply:
    """Applies gradients to `variables` with `optimizer`'s state, one fused kernel per variable
    (see the module docstring). Build the optimizer on the variables first; call inside a
    `tf.function` (or eagerly)."""

    def __init__(self, optimizer: keras.optimizers.Optimizer, variables: Sequence[Any]):
        self.optimizer, self.variables = optimizer, list(variables)
        kind = type(optimizer)
        self.kind = None
        if _plain(optimizer):
            if kind is keras.optimizers.Adam and not optimizer.amsgrad:
                self.kind = 'adam'
            elif kind is keras.optimizers.RMSprop and not optimizer.centered:
                self.kind = 'rmsprop'
                if not optimizer.momentum:  # the kernel writes a momentum slot: a scratch one, always overwritten
                    self._scratch = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
            elif kind is keras.optimizers.SGD and not optimizer.momentum:
                self.kind = 'sgd'
        if self.kind is not None:
            index = optimizer._get_variable_index  # noqa: SLF001 - the optimizer's own slots, by variable
            if self.kind == 'adam':
                self._slots = [(optimizer._momentums[index(v)], optimizer._velocities[index(v)])  # noqa: SLF001
                               for v in self.variables]
            elif self.kind == 'rmsprop':
                momentums = (optimizer._momentums if optimizer.momentum else self._scratch)  # noqa: SLF001
                self._slots = [(optimizer._velocities[index(v)], momentums[i])  # noqa: SLF001
                               for i, v in enumerate(self.variables)]

    def __call__(self, gradients: Sequence[tf.Tensor]) -> None:
        optimizer = self.optimizer
        if self.kind is None:
            optimizer.apply_gradients(zip(gradients, self.variables))
            return
        lr = tf.cast(optimizer.learning_rate, tf.float32)
        if self.kind == 'adam':
            step = tf.cast(optimizer.iterations + 1, tf.float32)
            beta_1, beta_2 = tf.constant(optimizer.beta_1, tf.float32), tf.constant(optimizer.beta_2, tf.float32)
            powers = tf.pow(beta_1, step), tf.pow(beta_2, step)
            epsilon = tf.constant(optimizer.epsilon, tf.float32)
            for variable, gradient, (m, v) in zip(self.variables, gradients, self._slots):
                tf.raw_ops.ResourceApplyAdam(var=_handle(variable), m=_handle(m), v=_handle(v),
                                             beta1_power=powers[0], beta2_power=powers[1], lr=lr, beta1=beta_1,
                                             beta2=beta_2, epsilon=epsilon, grad=gradient)
        elif self.kind == 'rmsprop':
            rho, momentum = tf.constant(optimizer.rho, tf.float32), tf.constant(optimizer.momentum, tf.float32)
            epsilon = tf.constant(optimizer.epsilon, tf.float32)
            for variable, gradient, (ms, mom) in zip(self.variables, gradients, self._slots):
                tf.raw_ops.ResourceApplyRMSProp(var=_handle(variable), ms=_handle(ms), mom=_handle(mom), lr=lr,
                                                rho=rho, momentum=momentum, epsilon=epsilon, grad=gradient)
        else:
            for variable, gradient in zip(self.variables, gradients):
                tf.raw_ops.ResourceApplyGradientDescent(var=_handle(variable), alpha=lr, delta=gradient)
        optimizer.iterations.assign_add(1)


def _handle(variable: Any) -> tf.Tensor:
    """The resource handle of a Keras or TF variable."""
    return variable.value.handle if isinstance(variable, keras.Variable) else variable.handle
