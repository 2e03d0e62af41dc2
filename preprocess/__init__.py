"""modalbridge.preprocess: declarative, batched, stateful preprocessing stacks.

A `Stack` runs a TensorForce-style declaration on a dict of named states,
on TensorFlow (one compiled function) or NumPy/OpenCV (no TensorFlow
import). Reuse it in any RL code through `PreprocessObservation` (a
Gymnasium wrapper, single and vector), `PreprocessDMEnv` (dm_env) or
`PreprocessingLayer` (Keras); `Preprocessed` / `PreprocessedVector` put it
on the environment side of the contract.
"""

from modalbridge.preprocess import custom, image, running, scalar, shape, temporal, text  # noqa: F401 (registry)
from modalbridge.preprocess.base import Preprocessor, preprocessor_types
from modalbridge.preprocess.environment import Preprocessed, PreprocessedVector
from modalbridge.preprocess.stack import Stack, normalize_declaration
from modalbridge.preprocess.wrappers import PreprocessDMEnv, PreprocessObservation, PreprocessVectorObservation

__all__ = ['PreprocessDMEnv', 'PreprocessObservation', 'PreprocessVectorObservation', 'Preprocessed',
           'PreprocessedVector', 'Preprocessor', 'PreprocessingLayer', 'Stack', 'normalize_declaration',
           'preprocessor_types']


def __getattr__(name: str):
    # The Keras layer imports TensorFlow; load it only when asked for.
    if name == 'PreprocessingLayer':
        from modalbridge.preprocess.keras_layer import PreprocessingLayer
        return PreprocessingLayer
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
