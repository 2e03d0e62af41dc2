"""`PreprocessingLayer`: a preprocessing declaration as a Keras 3 layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import keras as keras_
import tensorflow as tf
from keras.src.saving import serialization_lib

from modalbridge.bridges.specs import SpecLike, as_specs, from_dict, is_text, to_dict
from modalbridge.preprocess.stack import Declaration, Stack

if TYPE_CHECKING:  # the module, so that keras.Model is a type to the checker
    import keras
else:
    keras = tf.keras


@keras_.saving.register_keras_serializable(package='modalbridge')
class PreprocessingLayer(keras.layers.Layer):
    """Runs a `Stack` (TF backend) inside a Keras model; dict in, dict out.

        layer = PreprocessingLayer(dict(image=dict(type='int', shape=(210, 160, 3), min_value=0,
                                                   max_value=255, dtype='uint8')),
                                   dict(image=[dict(type='grayscale'), dict(type='normalize')]))
        inputs = {'image': keras.Input((210, 160, 3), dtype='uint8')}
        model = keras.Model(inputs, layer(inputs))

    Registered with Keras (``modalbridge>PreprocessingLayer``) when this module is
    imported: `keras.saving.load_model` needs no ``custom_objects``, and `model.export()` writes a SavedModel with the
    layer's lookup tables and state variables tracked.

    Stateless declarations take any batch size; stateful ones (`sequence`,
    `deltafier`, ...) need batches of ``num_envs``. Its config holds the
    declaration by value; rebuilt while Keras loads in safe mode, a dotted
    type resolves only to registered plug-ins.
    """

    def __init__(self, states: Mapping[str, SpecLike], preprocessing: Declaration, num_envs: int = 1,
                 safe_mode: bool | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.stack = Stack(states, preprocessing, num_envs=num_envs, backend='tf', safe_mode=safe_mode)
        # A SavedModel (`model.export()`) must reach every resource the layer's call captures.
        self._resources = tf.Module()
        self._resources.tracked = self.stack.tf_resources()
        self._config = dict(states={name: to_dict(spec) for name, spec in as_specs(states).items()},
                            preprocessing=self.stack.config(), num_envs=num_envs)

    def call(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        processed = self.stack.apply_tf({name: inputs[name] for name in self.stack.preprocessing})
        return {name: processed.get(name, inputs.get(name)) for name in self.stack.states}

    def compute_output_spec(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        batch = next(iter(inputs.values())).shape[0]
        return {name: keras.KerasTensor((batch,) + spec.shape, dtype='string' if is_text(spec) else spec.dtype.name)
                for name, spec in self.stack.states.items()}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._config}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> 'PreprocessingLayer':
        config = dict(config)
        states = {name: from_dict(spec, name=name) for name, spec in config.pop('states').items()}
        # Loading a saved model (Keras' safe mode, on by default there) resolves only registered plug-ins.
        safe_mode = bool(serialization_lib.in_safe_mode())
        return cls(states, config.pop('preprocessing'), safe_mode=safe_mode, **config)
