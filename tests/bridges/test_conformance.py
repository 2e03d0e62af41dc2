"""One deliberately broken environment per check, each asserting its exact message."""

import numpy as np
import pytest
from dm_env import specs as dm_specs

from modalbridge.bridges import (CheckFailed, ConfigError, Environment, EnvironmentFailure, ResetNeeded, SpecError, Step,
                                 Terminal, check)
from modalbridge.bridges import conformance as check_lib


class Good(Environment):
    """A well-behaved environment: a walk on a line that ends at +-3."""

    def __init__(self):
        super().__init__(
            states=dict(position=dict(type='float', shape=(2,), min_value=-10.0, max_value=10.0),
                        caption=dict(type='text')),
            actions=dict(move=dict(type='int', num_values=3),
                         push=dict(type='float', shape=(), min_value=-1.0, max_value=1.0)))

    def _reset(self, seed):
        if seed is not None or not hasattr(self, 'rng'):  # reset() continues the seeded stream
            self.rng = np.random.default_rng(seed)
        self.position = np.zeros(2, np.float32)
        return dict(position=self.position, caption='walk')

    def _execute(self, actions):
        self.position = self.position + np.float32(int(actions['move']) - 1 + self.rng.normal(0, 0.1))
        terminal = Terminal.TERMINATED if abs(self.position[0]) >= 3 else Terminal.NONE
        return Step(dict(position=self.position, caption='walk'), float(self.position[0]), terminal, {})


def test_a_good_environment_passes_every_check():
    report = check(Good())
    assert report.ok and report.failures == ()
    assert report.passed == ('specs', 'stable_specs', 'execute_before', 'reset', 'step', 'bad_actions',
                             'determinism', 'fresh_arrays', 'seeding', 'after_end', 'close')
    assert '11 passed, 0 failed, 0 skipped' in str(report)


def test_check_accepts_a_factory():
    assert check(Good).ok


# -- broken environments -------------------------------------------------------

def with_states(value):
    class Env(Good):
        states = property(lambda self: value)
    return Env


class Unstable(Good):
    states = property(lambda self: dict(self._state_specs))


class NoOrder(Good):
    def execute(self, actions):
        if not hasattr(self, 'position'):
            self.position = np.zeros(2, np.float32)
            self.rng = np.random.default_rng(0)
        return Step(dict(position=self.position.copy(), caption=np.array('walk', object)), 0.0, Terminal.NONE, {})


def returning(**states):
    class Env(Good):
        def reset(self, seed=None):
            super().reset(seed)
            return states
    return Env


def stepping(step):
    class Env(Good):
        def execute(self, actions):
            super().execute(actions)
            return step
    return Env


def valid_states():
    return dict(position=np.zeros(2, np.float32), caption=np.array('walk', object))


class Accepting(Good):
    def execute(self, actions):
        return Step(valid_states(), 0.0, Terminal.NONE, {})


def raising(error):
    class Env(Good):
        def _validate_actions(self, actions):
            raise error
    return Env


class Unseeded(Good):
    draws = iter(range(10 ** 6))

    def _reset(self, seed):
        states = super()._reset(seed)
        self.rng = np.random.default_rng(next(self.draws))
        return states


class ReseedsEveryReset(Good):
    """The pattern Gymnasium's rule forbids: reset() starts an unseeded stream."""

    def _reset(self, seed):
        states = super()._reset(seed)
        self.rng = np.random.default_rng(seed)
        return states


class SharedBuffer(Good):
    def reset(self, seed=None):
        self.buffer = super().reset(seed)
        return self.buffer

    def execute(self, actions):
        step = super().execute(actions)
        self.buffer['position'][:] = step.states['position']
        return step._replace(states=self.buffer)


class KeepsReturned(Good):
    """Returns new arrays but computes the next one from the array it handed out."""

    def reset(self, seed=None):
        self.returned = np.zeros(2, np.float32)
        return dict(position=self.returned, caption=np.array('walk', object))

    def execute(self, actions):
        self.returned = self.returned + 0.5
        return Step(dict(position=self.returned, caption=np.array('walk', object)), 0.0, Terminal.NONE, {})


class EndlessAfterEnd(Good):
    def execute(self, actions):
        try:
            return super().execute(actions)
        except ResetNeeded:
            return Step(valid_states(), 0.0, Terminal.NONE, {})


class CloseOnce(Good):
    def close(self):
        if getattr(self, 'was_closed', False):
            raise RuntimeError('already closed')
        self.was_closed = True


class Exploding(Good):
    def _reset(self, seed):
        raise ValueError('no map')


text = dm_specs.StringArray((), name='caption')
position = dm_specs.BoundedArray((2,), np.float32, -10.0, 10.0, name='position')

BROKEN = [
    (with_states([position]), 'specs', check_lib.NOT_A_MAPPING.format(what='states', type='list')),
    (with_states({}), 'specs', check_lib.NO_STATES),
    (with_states(dict(position=3)), 'specs', check_lib.NOT_A_SPEC.format(what='states', key='position', type='int')),
    (with_states(dict(position=position.replace(name='pos'))), 'specs',
     check_lib.WRONG_NAME.format(what='states', key='position', name='pos')),
    (with_states(dict(position=dm_specs.BoundedArray((2,), np.float32, np.nan, 1.0, name='position'))), 'specs',
     check_lib.BAD_BOUNDS.format(what='states', key='position')),
    (Unstable, 'stable_specs', check_lib.NOT_STABLE.format(what='states')),
    (NoOrder, 'execute_before', check_lib.EXECUTE_BEFORE_RESET_ALLOWED.format(outcome='returned normally')),
    (returning(position=np.zeros(2, np.float32), caption=np.array('x', object), extra=np.zeros(1)), 'reset',
     check_lib.WRONG_KEYS.format(method='reset()', received=['caption', 'extra', 'position'],
                                 expected=['caption', 'position'])),
    (returning(position=[0.0, 0.0], caption=np.array('x', object)), 'reset',
     check_lib.NOT_AN_ARRAY.format(method='reset()', key='position', type='list', dtype='float32')),
    (returning(position=np.zeros(2), caption=np.array('x', object)), 'reset',
     check_lib.WRONG_DTYPE.format(method='reset()', key='position', received='float64', dtype='float32')),
    (returning(position=np.full(2, 11, np.float32), caption=np.array('x', object)), 'reset',
     check_lib.INVALID_STATE.format(method='reset()', error=SpecError(
         'position', 'float32 array of shape (2,) in [-10.0, 10.0]',
         'float32 array of shape (2,): [11.0, 11.0] (out of bounds: 2 bad element(s), first at index (0,): 11.0)'))),
    (stepping((valid_states(), 0.0, Terminal.NONE, {})), 'step', check_lib.NOT_A_STEP.format(type='tuple')),
    (stepping(Step(valid_states(), 0.0, False, {})), 'step', check_lib.BAD_TERMINAL.format(value=False, type='bool')),
    (stepping(Step(valid_states(), float('nan'), Terminal.NONE, {})), 'step',
     check_lib.BAD_REWARD.format(value=float('nan'), type='float')),
    (stepping(Step(valid_states(), 1, Terminal.NONE, {})), 'step', check_lib.BAD_REWARD.format(value=1, type='int')),
    (stepping(Step(valid_states(), 0.0, Terminal.NONE, None)), 'step', check_lib.BAD_INFO.format(type='NoneType')),
    (Accepting, 'bad_actions', check_lib.BAD_ACTION_ACCEPTED.format(case="with an extra key", key='__check_extra__')),
    (raising(KeyError('move')), 'bad_actions', check_lib.BAD_ACTION_WRONG_ERROR.format(
        case='with an extra key', type='KeyError', error="'move'")),
    (raising(SpecError(None, 'something', 'else')), 'bad_actions', check_lib.BAD_ACTION_UNNAMED.format(
        case='with an extra key', key='__check_extra__', error="value: expected something; received else")),
    (Unseeded, 'determinism', check_lib.NOT_DETERMINISTIC.format(seed=0, what="state 'position'", step=1)),
    (ReseedsEveryReset, 'seeding', check_lib.NOT_CONTINUED.format(seed=0, what="state 'position'", step=1)),
    (SharedBuffer, 'fresh_arrays', check_lib.SHARED_MEMORY.format(method='execute()', key='position')),
    (KeepsReturned, 'fresh_arrays', check_lib.MUTATION_LEAKED.format(what="state 'position'", step=1)),
    (EndlessAfterEnd, 'after_end', check_lib.EXECUTE_AFTER_END_ALLOWED.format(
        terminal='TERMINATED', outcome='returned normally')),
    (CloseOnce, 'close', check_lib.CLOSE_FAILED.format(call=2, error=RuntimeError('already closed'))),
    (Exploding, 'reset', check_lib.RAISED.format(
        error=EnvironmentFailure("Exploding._reset failed: ValueError('no map')"))),
]


@pytest.mark.parametrize('factory, name, message', BROKEN, ids=[f'{row[1]}-{i}' for i, row in enumerate(BROKEN)])
def test_each_broken_environment_triggers_exactly_its_message(factory, name, message):
    report = check(factory, raise_on_failure=False)
    assert (name, message) in report.failures, report.failures
    assert name not in report.passed


class ThreeFaults(Unstable):
    def execute(self, actions):
        try:
            return super().execute(actions)
        except ResetNeeded:
            return Step(valid_states(), 0.0, Terminal.NONE, {})

    def close(self):
        if getattr(self, 'was_closed', False):
            raise RuntimeError('already closed')
        self.was_closed = True


def test_check_raises_one_error_listing_every_failure():
    with pytest.raises(CheckFailed) as caught:
        check(ThreeFaults)
    report = caught.value.report
    assert [name for name, _ in report.failures] == ['stable_specs', 'execute_before', 'after_end', 'close']
    for name, message in report.failures:
        assert f'[{name}] {message}' in str(caught.value)


def test_a_terminal_that_never_comes_skips_after_end():
    class Forever(Good):
        def _execute(self, actions):
            return Step(valid_states(), 0.0, Terminal.NONE, {})
    report = check(Forever, max_steps=10)
    assert report.skipped == (('after_end', 'no episode ended within max_steps=10'),) and report.ok
    assert 'skip [after_end] no episode ended within max_steps=10' in str(report)


# -- judging used, non-deterministic and unseedable environments (issue 10) ------

def test_a_used_environment_is_judged_without_false_failures():
    env = Good()
    env.reset(seed=5)
    env.execute(dict(move=np.int64(2), push=np.float32(0.0)))
    report = check(env)
    assert report.ok and report.skipped == (('execute_before', check_lib.SKIP_USED),)
    assert 'determinism' in report.passed and 'seeding' in report.passed


def test_an_environment_whose_episode_ended_still_checks_execute_before():
    env = Good()
    env.reset(seed=0)
    while env.execute(dict(move=np.int64(2), push=np.float32(0.0))).terminal == Terminal.NONE:
        pass
    assert 'execute_before' in check(env).passed


def test_a_non_deterministic_environment_is_reported_once():
    report = check(Unseeded, raise_on_failure=False)
    assert [name for name, _ in report.failures] == ['determinism']
    assert 'fresh_arrays' in report.passed
    assert ('seeding', check_lib.SKIP_NOT_DETERMINISTIC) in report.skipped


def test_a_failing_reset_is_reported_once_and_what_needs_it_is_skipped():
    report = check(Exploding, raise_on_failure=False)
    assert [name for name, _ in report.failures] == ['reset']
    assert report.skipped_names == ('step', 'bad_actions', 'determinism', 'fresh_arrays', 'seeding', 'after_end')
    assert ('step', check_lib.SKIP_NEEDS.format(check='reset')) in report.skipped


class NoSeed(Good):
    def _reset(self, seed):
        if seed is not None:
            raise ConfigError('NoSeed: takes no seed')
        return super()._reset(seed)


def test_an_environment_that_cannot_be_reseeded_skips_the_seeded_checks_saying_why():
    report = check(NoSeed)
    reason = check_lib.SKIP_UNSEEDABLE.format(error='NoSeed: takes no seed')
    assert report.ok and report.skipped == (('determinism', reason), ('seeding', check_lib.SKIP_NOT_DETERMINISTIC))
    assert 'fresh_arrays' in report.passed and 'after_end' in report.passed


def test_a_dm_control_task_is_reseeded_through_its_random_state():
    suite = pytest.importorskip('dm_control.suite')
    from modalbridge.bridges import DMEnvBridge
    report = check(DMEnvBridge(suite.load('cartpole', 'swingup')), steps=5)
    assert report.ok and report.skipped == ()
    assert {'determinism', 'seeding', 'fresh_arrays', 'after_end'} <= set(report.passed)
