import importlib.util
import io
import sys

import cv2
import numpy as np
import pytest

from modalbridge.agents import A2C, RandomAgent, Runner
from modalbridge.agents.runner import CURVE_POINTS, TENSORBOARD_MISSING, History
from modalbridge.bridges import ConfigError, GymBridge, VectorEnvironment
from modalbridge.preprocess import Stack
from tests.bridges.helpers import Ticks




def test_history_of_returns_and_lengths():
    env = Ticks(length=4)
    history = Runner(RandomAgent(env.states, env.actions, seed=0), env).run(episodes=3, progress=False)
    assert history.episode_returns == [4.0, 4.0, 4.0] and history.episode_lengths == [4, 4, 4]
    assert history.timesteps == 12 and history.episodes == 3 and history.episode_ends == [4, 8, 12]


@pytest.mark.parametrize('stop', [False, np.False_, 0, np.array(False), ''], ids=repr)
def test_any_falsy_callback_result_stops_the_run(stop):
    env = Ticks()
    calls = []

    def callback(runner):
        calls.append(runner.episodes)
        return stop
    history = Runner(RandomAgent(env.states, env.actions), env).run(episodes=10, callback=callback, progress=False)
    assert calls == [1] and history.episodes == 1


def test_a_callback_returning_none_continues():
    env = Ticks()
    history = Runner(RandomAgent(env.states, env.actions), env).run(episodes=4, callback=lambda r: None,
                                                                    progress=False)
    assert history.episodes == 4


def test_the_readme_callback_stops_once_solved():
    env = Ticks(length=2)  # every return is 2.0: 'solved' at the first episode
    history = Runner(RandomAgent(env.states, env.actions), env).run(
        timesteps=1000, callback=lambda r: np.mean(r.episode_returns[-10:]) < 2.0, progress=False)
    assert history.episodes == 1 and history.timesteps == 2


def test_the_history_keeps_a_bounded_window_and_running_totals():
    env = Ticks(length=1)
    history = Runner(RandomAgent(env.states, env.actions), env, window=5).run(episodes=103, progress=False)
    assert len(history.episode_returns) == 5 and len(history.episode_lengths) == 5
    assert len(history._returns) < 10  # the storage behind the window stays bounded too
    assert history.episodes == 103 and history.total_return == 103.0 and history.total_length == 103
    assert history.mean_return() == 1.0


def test_the_learning_curve_stays_bounded_and_spans_the_run():
    history = History(window=10)
    for episode in range(20 * CURVE_POINTS):
        history.add(float(episode), length=1, timesteps=episode + 1)
    assert CURVE_POINTS // 2 <= len(history.curve) < CURVE_POINTS
    assert history.curve[0][0] <= 2 * (20 * CURVE_POINTS) / CURVE_POINTS
    assert history.curve[-1][0] > 19 * CURVE_POINTS
    assert len(history.episode_returns) == 10 and len(history._returns) < 20


def test_history_plot_writes_a_png(tmp_path):
    env = Ticks(length=3)
    history = Runner(RandomAgent(env.states, env.actions), env).run(episodes=5, progress=False)
    image = cv2.imread(history.plot(tmp_path / 'curve.png'))
    assert image.shape == (480, 800, 3) and (image < 255).any()
    with pytest.raises(ConfigError, match=r"plot: the path must end with .png; received '.*curve.jpg'"):
        history.plot(tmp_path / 'curve.jpg')
    with pytest.raises(ConfigError, match='plot: there are no finished episodes to plot'):
        History().plot(tmp_path / 'empty.png')
    with pytest.raises(ConfigError, match='plot: the directory .* does not exist'):
        history.plot(tmp_path / 'missing' / 'curve.png')


class Learner(RandomAgent):
    """Updates every other observe, reporting scalars (and an array, which is not a scalar)."""

    def _observe(self, reward, terminal, final_states):
        self.calls = getattr(self, 'calls', 0) + 1
        self.last_update = dict(policy_loss=0.5 * self.calls, entropy=np.float32(0.25), returns=np.ones(3),
                                nan=float('nan'), flag=True)
        return self.calls % 2 == 0


def test_update_scalars_reach_the_history_and_the_progress_lines(capsys):
    env = Ticks()
    runner = Runner(Learner(env.states, env.actions), env)
    history = runner.run(timesteps=6, log_every=1e-9)
    assert history.updates == 3
    assert history.metrics == dict(policy_loss=3.0, entropy=0.25)
    lines = capsys.readouterr().err.splitlines()
    assert lines and all('\r' not in line for line in lines)
    assert lines[-1].startswith('6/6 steps  return 3.00  SPS ') and 'policy_loss 3  entropy 0.25' in lines[-1]


def test_an_agent_without_last_update_is_fine():
    env = Ticks()
    agent = Learner(env.states, env.actions)
    agent._observe = lambda reward, terminal, final_states: True
    history = Runner(agent, env).run(timesteps=3, progress=False)
    assert history.updates == 3 and history.metrics == {}


def test_the_progress_bar_is_drawn_only_on_a_terminal(monkeypatch):
    env = Ticks()
    stream = io.StringIO()
    stream.isatty = lambda: True
    monkeypatch.setattr(sys, 'stderr', stream)
    Runner(RandomAgent(env.states, env.actions), env).run(timesteps=30, log_every=1e-9)
    assert '\r' in stream.getvalue() and 'steps  return' not in stream.getvalue()
    silent = io.StringIO()
    monkeypatch.setattr(sys, 'stderr', silent)
    Runner(RandomAgent(env.states, env.actions), env).run(timesteps=30, progress=False)
    assert silent.getvalue() == ''


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


def test_tensorboard_scalars_are_written_under_cleanrl_names(tmp_path):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    env = Ticks()
    Runner(Learner(env.states, env.actions), env, summary_dir=str(tmp_path)).run(episodes=2, progress=False)
    events = EventAccumulator(str(tmp_path)).Reload()
    tags = set(events.Tags()['tensors'])
    assert {'charts/episodic_return', 'charts/episodic_length', 'charts/SPS', 'losses/policy_loss',
            'losses/entropy'} <= tags
    assert 'losses/returns' not in tags and 'losses/nan' not in tags
    returns = events.Tensors('charts/episodic_return')
    assert [event.step for event in returns] == [3, 6]


def test_an_evaluation_is_recorded_in_tensorboard(tmp_path):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from modalbridge.agents.evaluation import Evaluation
    env = Ticks()
    runner = Runner(RandomAgent(env.states, env.actions), env, summary_dir=str(tmp_path))
    runner.run(episodes=1, progress=False)
    runner.record_evaluation(Evaluation((1.0, 3.0), (2, 4), (True, False)))
    events = EventAccumulator(str(tmp_path)).Reload()
    assert {'eval/mean_return', 'eval/mean_length', 'eval/success_rate'} <= set(events.Tags()['tensors'])
    (event,) = events.Tensors('eval/success_rate')
    assert event.step == 3 and float(tf_value(event)) == 0.5
    Runner(RandomAgent(env.states, env.actions), env).record_evaluation(Evaluation((1.0,), (1,)))  # no writer: no-op


def tf_value(event):
    import tensorflow as tf
    return tf.make_ndarray(event.tensor_proto)


def test_mismatched_agent_and_environment_are_refused():
    env = Ticks()
    with pytest.raises(ConfigError, match='Runner: the agent was built for states'):
        Runner(RandomAgent(dict(t=dict(type='float', shape=(2,))), env.actions), env)
    with pytest.raises(ConfigError, match='Runner: the agent acts for parallel=2 environments, the environment has 1'):
        Runner(RandomAgent(env.states, env.actions, parallel=2), env)
    with pytest.raises(ConfigError, match='run: give episodes=, timesteps= or both'):
        Runner(RandomAgent(env.states, env.actions), env).run()
    with pytest.raises(ConfigError, match=r'run: episodes: expected an int >= 1; received 0'):
        Runner(RandomAgent(env.states, env.actions), env).run(episodes=0)


@pytest.mark.parametrize('make, message', [
    (lambda a, e: Runner(a, e, window=0), 'Runner: window: expected an int >= 1; received 0'),
    (lambda a, e: Runner(a, e, seed=-1), 'Runner: seed: expected an int >= 0; received -1'),
    (lambda a, e: Runner(a, 'CartPole-v1'), 'Runner: expected an Environment, a VectorEnvironment or a list'),
    (lambda a, e: Runner(a, e).run(timesteps=True), 'run: timesteps: expected an int >= 1; received True'),
    (lambda a, e: Runner(a, e).run(episodes=1, callback=3), 'run: callback must be a function'),
    (lambda a, e: Runner(a, e).run(episodes=1, progress='no'), "run: progress: expected True or False"),
    (lambda a, e: Runner(a, e).run(episodes=1, log_every=0), 'run: log_every: expected a finite number > 0'),
])
def test_bad_runner_arguments_are_config_errors(make, message):
    env = Ticks()
    with pytest.raises(ConfigError) as caught:
        make(RandomAgent(env.states, env.actions), env)
    assert str(caught.value).startswith(message)


@pytest.mark.skipif(importlib.util.find_spec('tensorboard') is not None, reason='tensorboard is installed')
def test_summary_dir_without_tensorboard_is_a_config_error(tmp_path):
    env = Ticks()
    with pytest.raises(ConfigError) as caught:
        Runner(RandomAgent(env.states, env.actions), env, summary_dir=str(tmp_path))
    assert str(caught.value) == TENSORBOARD_MISSING


def test_off_a_terminal_only_one_line_per_period_is_printed(capsys):
    env = Ticks()
    Runner(RandomAgent(env.states, env.actions), env).run(timesteps=300, log_every=3600)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith('300/300 steps  return 3.00')


def test_runs_on_an_envpool_batch_as_on_any_vector_environment():
    pytest.importorskip('envpool')
    from modalbridge.bridges import EnvPoolBridge
    env = EnvPoolBridge('CartPole-v1', num_envs=3, seed=0)
    history = Runner(RandomAgent(env.states, env.actions, parallel=3, seed=0), env, seed=0).run(
        episodes=6, progress=False)
    assert history.episodes >= 6 and all(1 <= length <= 500 for length in history.episode_lengths)
    assert history.episode_returns == [float(length) for length in history.episode_lengths]  # CartPole: 1 a step
