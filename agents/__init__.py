"""modalbridge.agents: network builders, the act/observe API, the Runner and
reference agents (RandomAgent, A2C, PPO; DQN and TD3 on a replay memory), on Keras 3 with the TensorFlow backend.

`num_envs` is the number of environments an agent acts for in one batch
(`parallel` is accepted as its alias, TensorForce's name).
"""

from modalbridge.agents import heads, networks
from modalbridge.agents.a2c import A2C, A2CConfig
from modalbridge.agents.agent import Agent
from modalbridge.agents.config import AgentConfig
from modalbridge.agents.dqn import DQN, DQNConfig
from modalbridge.agents.exploration import Exploration
from modalbridge.agents.policy import Policy
from modalbridge.agents.ppo import PPO, PPOConfig
from modalbridge.agents.random_agent import RandomAgent
from modalbridge.agents.replay import ReplayMemory
from modalbridge.agents.runner import History, Runner
from modalbridge.agents.td3 import TD3, TD3Config

__all__ = ['A2C', 'A2CConfig', 'Agent', 'AgentConfig', 'DQN', 'DQNConfig', 'Exploration', 'History', 'PPO',
           'PPOConfig', 'Policy', 'RandomAgent', 'ReplayMemory', 'Runner', 'TD3', 'TD3Config', 'heads', 'networks']
