"""modalbridge.agents: network builders, the act/observe API, the Runner and
reference agents (RandomAgent, A2C), on Keras 3 with the TensorFlow backend."""

from modalbridge.agents import distributions, networks
from modalbridge.agents.a2c import A2C
from modalbridge.agents.agent import Agent
from modalbridge.agents.random_agent import RandomAgent
from modalbridge.agents.runner import History, Runner

__all__ = ['A2C', 'Agent', 'History', 'RandomAgent', 'Runner', 'distributions', 'networks']
