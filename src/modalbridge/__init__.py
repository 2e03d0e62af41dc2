"""modalbridge: reinforcement learning on multimodal environments.

One contract (a dict of named states and a dict of named actions described by
dm_env specs) and four packages, each usable alone; importing this package
imports none of them (``modalbridge.bridges`` stays free of TensorFlow):

- `modalbridge.bridges`: the contract and the bridges (NumPy, Gymnasium, dm_env);
- `modalbridge.envs`: built-in environments, registered with Gymnasium;
- `modalbridge.preprocess`: declarative preprocessing stacks (NumPy/OpenCV or TensorFlow);
- `modalbridge.agents`: networks from specs, A2C, PPO, the Runner (Keras 3 / TensorFlow).

>>> import modalbridge
>>> modalbridge.__version__
'0.1.0'
"""

__version__ = '0.1.0'

__all__ = ['__version__']
