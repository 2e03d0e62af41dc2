import numpy as np
import pytest

from modalbridge.agents import A2C, RandomAgent
from modalbridge.agents.evaluation import Evaluation, evaluate
from modalbridge.bridges import ConfigError, Environment, GymBridge, Step, Terminal, VectorEnvironment


class Countdown(Environment):
    """Episodes of `length` steps, reward 1 per step; `info['success']` when the last action was 1."""

    def __init__(self, length=3, report_success=True):
        super().__init__(states=dict(t=dict(type='float', shape=(1,))),
                         actions=dict(action=dict(type='int', num_values=2)))
        self.length, self.report_success, self.seeds = length, report_success, []

    def _reset(self, seed):
        self.seeds.append(seed)
        self.t = 0
        return dict(t=np.array([0.0], np.float32))

    def _execute(self, actions):
        self.t += 1
        done = self.t >= self.length
        info = dict(success=int(actions['action']) == 1) if done and self.report_success else {}
        return Step(dict(t=np.array([float(self.t)], np.float32)), 1.0,
                    Terminal.TERMINATED if done else Terminal.NONE, info)


class Spy(RandomAgent):
    """Always action 1; records how it was asked to act."""

    def _act(self, states, deterministic, independent):
        self.calls = getattr(self, 'calls', []) + [(deterministic, independent)]
        rows = next(iter(states.values())).shape[0]
        return dict(action=np.ones(rows, np.int64))


def test_returns_lengths_and_reported_success_on_one_environment():
    env = Countdown(length=3)
    result = evaluate(Spy(env.states, env.actions), env, episodes=4, seed=7)
    assert result == Evaluation((3.0,) * 4, (3,) * 4, (True,) * 4)
    assert result.mean_return == 3.0 and result.std_return == 0.0 and result.success_rate == 1.0
    assert env.seeds == [7, 8, 9, 10]
    assert str(result) == '4 episodes: return 3.00 +- 0.00, length 3.0, success 1.00'


def test_acts_deterministically_and_independently_by_default():
    env = Countdown()
    agent = Spy(env.states, env.actions)
    evaluate(agent, env, episodes=1)
    assert set(agent.calls) == {(True, True)}
    agent.calls = []
    evaluate(agent, env, episodes=1, deterministic=False)
    assert set(agent.calls) == {(False, True)}


def test_a_success_function_judges_the_last_info():
    env = Countdown(report_success=False)
    result = evaluate(Spy(env.states, env.actions), env, episodes=2)
    assert result.successes is None and result.success_rate is None
    assert 'success' not in str(result)
    judged = evaluate(Spy(env.states, env.actions), env, episodes=2, success=lambda info: False)
    assert judged.successes == (False, False) and judged.success_rate == 0.0


def test_each_sub_environment_contributes_its_share_of_episodes():
    # the short environment would finish 5 episodes before the long one finishes 1
    envs = VectorEnvironment([Countdown(length=1), Countdown(length=5)])
    result = evaluate(Spy(envs.states, envs.actions, parallel=2), envs, episodes=4, seed=0)
    assert sorted(result.lengths) == [1, 1, 5, 5]
    assert result.successes == (True,) * 4
    assert envs.envs[0].seeds[0] == 0 and envs.envs[1].seeds[0] == 1


def test_a_list_of_environments_is_a_vector_environment():
    result = evaluate(Spy(Countdown().states, Countdown().actions), [Countdown(), Countdown()], episodes=3)
    assert result.lengths == (3, 3, 3)


def test_evaluation_does_not_teach_the_agent():
    env = GymBridge('CartPole-v1')
    agent = A2C(env.states, env.actions, n_steps=2, seed=0)
    result = evaluate(agent, env, episodes=2, seed=0)
    assert agent.updates == 0 and agent.timesteps == 0
    assert result.episodes == 2 and all(r >= 1 for r in result.returns)
    again = evaluate(agent, env, episodes=2, seed=0)
    assert again == result  # deterministic policy, same seeds


@pytest.mark.parametrize('arguments, message', [
    (dict(episodes=0), 'evaluate: episodes: expected an int >= 1; received 0'),
    (dict(episodes=True), 'evaluate: episodes: expected an int >= 1; received True (a bool)'),
    (dict(episodes=2, deterministic='yes'), "evaluate: deterministic: expected True or False; received 'yes'"),
    (dict(episodes=2, seed=-1), 'evaluate: seed: expected an int >= 0; received -1'),
    (dict(episodes=2, success='success'), 'evaluate: success must be a function'),
])
def test_bad_arguments_are_config_errors(arguments, message):
    env = Countdown()
    with pytest.raises(ConfigError) as caught:
        evaluate(Spy(env.states, env.actions), env, **arguments)
    assert str(caught.value).startswith(message)


def test_something_that_is_not_an_environment_is_refused():
    env = Countdown()
    with pytest.raises(ConfigError, match='evaluate: expected an Environment, a VectorEnvironment or a list'):
        evaluate(Spy(env.states, env.actions), 'CartPole-v1', episodes=1)


class Memory(RandomAgent):
    """Records the (preprocessed) states it is asked to act on."""

    def _act(self, states, deterministic, independent):
        self.seen = getattr(self, 'seen', []) + [states['t'].copy()]
        return super()._act(states, deterministic, independent)


def test_deprecated_preprocessing_restarts_per_episode_on_one_environment():
    env = Countdown(length=2)
    declaration = dict(t=[dict(type='sequence', length=2)])
    from modalbridge.preprocess import Stack
    agent = Memory(Stack(env.states, declaration, backend='numpy').states, env.actions, seed=0)
    evaluate(agent, env, episodes=2, preprocessing=declaration)
    assert [frame[0].tolist() for frame in agent.seen] == [[0, 0], [0, 1], [0, 0], [0, 1]]


def test_deprecated_preprocessing_restarts_per_finished_sub_environment():
    envs = VectorEnvironment([Countdown(length=2), Countdown(length=3)])
    declaration = dict(t=[dict(type='sequence', length=2)])
    from modalbridge.preprocess import Stack
    agent = Memory(Stack(envs.states, declaration, num_envs=2, backend='numpy').states, envs.actions, parallel=2)
    evaluate(agent, envs, episodes=4, preprocessing=declaration)
    assert [frame[0].tolist() for frame in agent.seen][:4] == [[0, 0], [0, 1], [0, 0], [0, 1]]
    assert [frame[1].tolist() for frame in agent.seen][:4] == [[0, 0], [0, 1], [1, 2], [0, 0]]


def test_a_success_function_that_raises_is_named():
    env = Countdown(report_success=False)
    with pytest.raises(ConfigError, match=r'success\(info\) raised ZeroDivisionError'):
        evaluate(Spy(env.states, env.actions), env, episodes=1, success=lambda info: 1 / 0)


@pytest.mark.parametrize('verdict', ['no', [False], np.array([True, False]), 2, None])
def test_a_success_verdict_that_is_not_a_bool_is_refused(verdict):
    # bool('no') and bool([False]) are True: counted as successes before
    env = Countdown(report_success=False)
    with pytest.raises(ConfigError, match='must be a bool'):
        evaluate(Spy(env.states, env.actions), env, episodes=1, success=lambda info: verdict)


def test_an_info_success_that_is_not_a_bool_is_refused():
    class Reporting(Countdown):
        def _execute(self, actions):
            step = super()._execute(actions)
            return step._replace(info=dict(success='yes')) if step.terminal else step
    env = Reporting()
    with pytest.raises(ConfigError, match=r"info\['success'\]"):
        evaluate(Spy(env.states, env.actions), env, episodes=1)


def test_numpy_bools_and_0_1_are_verdicts():
    env = Countdown(report_success=False)
    for verdict, rate in ((np.bool_(True), 1.0), (0, 0.0), (np.array(1), 1.0)):
        result = evaluate(Spy(env.states, env.actions), env, episodes=1, success=lambda info, v=verdict: v)
        assert result.success_rate == rate


def test_a_recurrent_agent_is_evaluated_with_its_memory_carried_and_restarted_per_episode():
    """`evaluate` passes the internals from step to step and restarts them at each episode start, so a
    recurrent agent scores as it acts when it drives itself."""
    from modalbridge.agents import PPO
    from modalbridge.bridges import GymBridge, VectorEnvironment
    agent = PPO(GymBridge('CartPole-v1').states, GymBridge('CartPole-v1').actions,
                network=[dict(type='dense', size=8), dict(type='lstm', size=8)], n_steps=4, batch_size=4, seed=0)
    calls = []
    act = agent.act

    def spy(states, **kwargs):
        calls.append(kwargs.get('internals'))
        return act(states, **kwargs)
    agent.act = spy
    result = evaluate(agent, GymBridge('CartPole-v1'), episodes=2, seed=0)
    assert len(result.returns) == 2 and all(internals is not None for internals in calls)
    first = [i for i, internals in enumerate(calls)
             if all(np.array_equal(v, agent.initial_internals()[k]) for k, v in internals.items())]
    assert len(first) == 2 and first[0] == 0  # restarted exactly at each episode's first step
    calls.clear()
    evaluate(agent, VectorEnvironment([GymBridge('CartPole-v1') for _ in range(2)]), episodes=2, seed=0)
    assert all(internals['policy_network_core0'].shape[0] == 2 for internals in calls if internals)


def test_evaluates_on_an_envpool_batch_with_a_fixed_share_per_environment():
    pytest.importorskip('envpool')
    from modalbridge.bridges import EnvPoolBridge
    env = EnvPoolBridge('CartPole-v1', num_envs=2, seed=0)
    result = evaluate(RandomAgent(env.states, env.actions, parallel=2, seed=0), env, episodes=5, seed=3)
    assert result.episodes == 5 and result.returns == tuple(float(n) for n in result.lengths)
