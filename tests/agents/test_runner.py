import numpy as np
import pytest

import importlib.util

from modalbridge.agents import A2C, RandomAgent, Runner
from modalbridge.agents.runner import TENSORBOARD_MISSING
from modalbridge.bridges import ConfigError, Environment, GymBridge, Step, Terminal, VectorEnvironment
from modalbridge.preprocess import Stack


class Ticks(Environment):
    """State = the step index; episodes of `length` steps (TERMINATED)."""

    def __init__(self, length=3):
        super().__init__(states=dict(t=dict(type='float', shape=(1,))),
                         actions=dict(action=dict(type='int', num_values=2)))
        self.length = length

    def _reset(self, seed):
        self.t = 0
        return dict(t=np.array([0.0], np.float32))

    def _execute(self, actions):
        self.t += 1
        return Step(dict(t=np.array([float(self.t)], np.float32)), 1.0,
                    Terminal.TERMINATED if self.t >= self.length else Terminal.NONE, {})


def test_history_of_returns_and_lengths():
    env = Ticks(length=4)
    history = Runner(RandomAgent(env.states, env.actions, seed=0), env).run(episodes=3, progress=False)
    assert history.episode_returns == [4.0, 4.0, 4.0] and history.episode_lengths == [4, 4, 4]
    assert history.timesteps == 12


def test_callback_sees_the_runner_and_stops_the_run():
    env = Ticks()
    seen = []

    def callback(runner):
        seen.append(len(runner.episode_returns))
        return len(runner.episode_returns) < 2
    Runner(RandomAgent(env.states, env.actions), env).run(episodes=10, callback=callback, progress=False)
    assert seen == [1, 2]


def test_max_episode_timesteps_truncates_episodes():
    env = Ticks(length=100)
    history = Runner(RandomAgent(env.states, env.actions), env).run(episodes=2, max_episode_timesteps=5,
                                                                    progress=False)
    assert history.episode_lengths == [5, 5]


class Recorder(RandomAgent):
    def _act(self, states, deterministic, independent):
        self.seen = getattr(self, 'seen', []) + [states['t'].copy()]
        return super()._act(states, deterministic, independent)


def test_the_preprocessing_stack_restarts_per_finished_environment():
    envs = VectorEnvironment([Ticks(length=2), Ticks(length=3)])
    stack = Stack(envs.states, dict(t=[dict(type='sequence', length=2)]), num_envs=2, backend='numpy')
    agent = Recorder(stack.states, envs.actions, parallel=2)
    Runner(agent, envs, preprocessing=stack).run(timesteps=8, progress=False)
    first_env = [frame[0].tolist() for frame in agent.seen]
    assert first_env == [[0, 0], [0, 1], [0, 0], [0, 1]]  # episode of 2 steps, then a fresh buffer
    second_env = [frame[1].tolist() for frame in agent.seen]
    assert second_env == [[0, 0], [0, 1], [1, 2], [0, 0]]


def test_evaluation_does_not_update():
    env = GymBridge('CartPole-v1')
    agent = A2C(env.states, env.actions, seed=0)
    Runner(agent, env).run(episodes=2, evaluate=True, progress=False)
    assert agent.updates == 0 and agent.timesteps == 0


def test_tensorboard_scalars_are_written(tmp_path):
    pytest.importorskip('tensorboard')
    env = Ticks()
    Runner(RandomAgent(env.states, env.actions), env, summary_dir=str(tmp_path)).run(episodes=2, progress=False)
    assert any(name.startswith('events.out.tfevents') for name in (p.name for p in tmp_path.iterdir()))


def test_mismatched_agent_and_environment_are_refused():
    env = Ticks()
    with pytest.raises(ConfigError, match='Runner: the agent was built for states'):
        Runner(RandomAgent(dict(t=dict(type='float', shape=(2,))), env.actions), env)
    with pytest.raises(ConfigError, match='Runner: the agent acts for parallel=2 environments, the environment has 1'):
        Runner(RandomAgent(env.states, env.actions, parallel=2), env)
    with pytest.raises(ConfigError, match='run: give episodes=, timesteps= or both'):
        Runner(RandomAgent(env.states, env.actions), env).run()
    with pytest.raises(ConfigError, match='run: episodes must be a positive int; received 0'):
        Runner(RandomAgent(env.states, env.actions), env).run(episodes=0)


@pytest.mark.skipif(importlib.util.find_spec('tensorboard') is not None, reason='tensorboard is installed')
def test_summary_dir_without_tensorboard_is_a_config_error(tmp_path):
    env = Ticks()
    with pytest.raises(ConfigError) as caught:
        Runner(RandomAgent(env.states, env.actions), env, summary_dir=str(tmp_path))
    assert str(caught.value) == TENSORBOARD_MISSING
