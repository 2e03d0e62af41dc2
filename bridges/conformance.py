"""`check(env)`: the conformance checker for your own adapter.

Run it on an environment, fresh or already used, or pass a zero-argument
factory::

    from modalbridge.bridges import GymBridge, check
    report = check(GymBridge('CartPole-v1'))
    print(report)

It runs every check, then raises `CheckFailed` listing all failures, or
returns a `CheckReport`. Each problem is reported once: a check that needs
something that failed, or that cannot apply, is skipped with the reason.
The checks, by name:

=================  ==========================================================
specs              states/actions are dicts of dm_env specs named by their
                   keys, with sane bounds; at least one state
stable_specs       `env.states` / `env.actions` are the same object each call
execute_before     execute before reset raises `ResetNeeded` (skipped on an
                   environment that was already reset)
reset              reset returns exactly the declared keys, each value a
                   numpy array of its spec's dtype, valid and finite
step               execute returns a `Step` with a `Terminal`, a finite
                   float reward, valid states and a dict info
bad_actions        a missing, extra, misshapen, out-of-range, NaN or
                   mistyped action raises `SpecError` naming the key
determinism        the same seed and actions give identical first steps
fresh_arrays       returned arrays are new: mutating one changes nothing later
                   (compared with a reference run only when deterministic)
seeding            Gymnasium's rule: ``reset(seed=s)`` then ``reset()``
                   continues the seeded stream (two runs agree)
after_end          execute after a terminal step raises `ResetNeeded`
                   (skipped if no episode ends within `max_steps`)
close              close twice is fine
=================  ==========================================================

An environment whose ``reset(seed=...)`` refuses a seed is reseeded through
its dm_control task's random state (``env.env.task.random``) when it has
one; otherwise the seeded checks are skipped, saying why.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator, Mapping

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges import specs as specs_lib
from modalbridge.bridges.batch import BatchedEnvironment
from modalbridge.bridges.environment import Environment, Step, Terminal
from modalbridge.bridges.errors import CheckFailed, ConfigError, ResetNeeded, SpecError

NOT_A_MAPPING = 'env.{what} is a {type}, not a dict of specs'
NO_STATES = 'env.states is empty: an environment needs at least one state'
NOT_A_SPEC = 'env.{what}[{key!r}] is a {type}, not a dm_env spec'
WRONG_NAME = 'env.{what}[{key!r}] is named {name!r}; a spec\'s name must equal its key'
BAD_BOUNDS = 'env.{what}[{key!r}] has NaN bounds or a minimum above its maximum'
NOT_STABLE = 'env.{what} returned a different object on a second access; fix specs at construction'
EXECUTE_BEFORE_RESET_ALLOWED = 'execute() before reset() {outcome}; expected ResetNeeded'
WRONG_KEYS = '{method} returned the keys {received}; expected {expected}'
NOT_AN_ARRAY = '{method} returned {key!r} as {type}; expected a numpy array of dtype {dtype}'
WRONG_DTYPE = '{method} returned {key!r} with dtype {received}; expected {dtype}'
INVALID_STATE = '{method} returned an invalid state: {error}'
NOT_A_STEP = 'execute() returned a {type}, not a Step'
BAD_TERMINAL = 'execute() returned terminal {value!r} ({type}); expected a Terminal'
BAD_REWARD = 'execute() returned reward {value!r} ({type}); expected a finite float'
BAD_INFO = 'execute() returned info of type {type}; expected a dict'
BAD_ACTION_ACCEPTED = 'the invalid action {case} was accepted; expected SpecError naming {key!r}'
BAD_ACTION_WRONG_ERROR = 'the invalid action {case} raised {type} instead of SpecError: {error}'
BAD_ACTION_UNNAMED = 'the invalid action {case} raised SpecError without naming {key!r}: {error}'
NOT_DETERMINISTIC = 'reset(seed={seed}) and the same actions gave a different {what} at step {step}'
NOT_CONTINUED = ('reset(seed={seed}) then reset() gave a different {what} at step {step} of the second episode '
                 'in two runs: reset() must continue the seeded random stream (seed a generator only when '
                 'given a seed, as Gymnasium\'s np_random)')
SHARED_MEMORY = '{method} returned {key!r} sharing memory with an earlier result; return fresh arrays'
MUTATION_LEAKED = 'mutating returned arrays changed {what} at step {step}; return fresh arrays'
EXECUTE_AFTER_END_ALLOWED = 'execute() after a {terminal} step {outcome}; expected ResetNeeded'
CLOSE_FAILED = 'close() raised on call {call}: {error!r}'
NOT_BATCHED = '{method} returned {key!r} with shape {received}; expected a leading axis of {num_envs}: {expected}'
BAD_BATCH = 'execute() returned {what} {received}; expected {expected}'
RAISED = 'raised {error!r}'

SKIP_USED = 'the environment was already reset before check(); pass a fresh one or a factory to test this'
SKIP_NEEDS = 'needs {check}, which failed'
SKIP_NOT_DETERMINISTIC = 'needs determinism, which did not pass'
SKIP_UNSEEDABLE = 'reset(seed=...) is refused ({error}) and there is no dm_control task random state to reseed'
SKIP_NO_END = 'no episode ended within max_steps={max_steps}'

EXTRA_KEY = '__check_extra__'


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """What `check` found: the passed checks, the skipped ones (with why) and the failures.

    >>> report = CheckReport('Env()', ('specs',), (('after_end', 'no episode ended'),), ())
    >>> report.ok, report.skipped_names
    (True, ('after_end',))
    """

    environment: str
    passed: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    failures: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def skipped_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.skipped)

    def __str__(self) -> str:
        lines = [f'check({self.environment}): {len(self.passed)} passed, '
                 f'{len(self.failures)} failed, {len(self.skipped)} skipped']
        lines += [f'  FAIL [{name}] {message}' for name, message in self.failures]
        lines += [f'  skip [{name}] {reason}' for name, reason in self.skipped]
        return '\n'.join(lines)


class _Failure(Exception):
    """One check's failure message (internal)."""


class _Skip(Exception):
    """One check does not apply; the message says why (internal)."""


def _outcome(call: Callable[[], Any]) -> str | None:
    """None if `call` raised ResetNeeded, else what happened instead."""
    try:
        call()
    except ResetNeeded:
        return None
    except Exception as error:  # noqa: BLE001 - we report whatever it was
        return f'raised {type(error).__name__}: {error}'
    return 'returned normally'


def _check_values(method: str, states: Any, declared: Mapping[str, Any]) -> None:
    if not isinstance(states, Mapping) or set(states) != set(declared):
        received = sorted(states) if isinstance(states, Mapping) else type(states).__name__
        raise _Failure(WRONG_KEYS.format(method=method, received=received, expected=sorted(declared)))
    for key, spec in declared.items():
        value = states[key]
        dtype = np.dtype(object) if specs_lib.is_text(spec) else spec.dtype
        if not isinstance(value, np.ndarray):
            raise _Failure(NOT_AN_ARRAY.format(method=method, key=key, type=type(value).__name__,
                                               dtype=dtype))
        if value.dtype != dtype:
            raise _Failure(WRONG_DTYPE.format(method=method, key=key, received=value.dtype,
                                              dtype=dtype))
        try:
            specs_lib.validate(spec, value, key)
        except SpecError as error:
            raise _Failure(INVALID_STATE.format(method=method, error=error)) from None


def _mutate(value: np.ndarray) -> None:
    if value.dtype == object:
        value[...] = 'mutated by check'
    elif value.dtype == np.bool_:
        np.logical_not(value, out=value)
    else:
        value[...] = value + 1


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == 'f':
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def _bad_actions(actions: Mapping[str, Any], valid: dict[str, np.ndarray]) -> Iterator[tuple[str, str, dict]]:
    """(case, key, actions) triples that every environment must reject."""
    yield 'with an extra key', EXTRA_KEY, {**valid, EXTRA_KEY: 0}
    for key, spec in actions.items():
        others = {k: v for k, v in valid.items() if k != key}
        yield f'missing {key!r}', key, others
        if specs_lib.is_text(spec):
            yield f'{key!r} of type int', key, {**others, key: 3}
            yield f'{key!r} of wrong shape', key, {**others, key: np.full(spec.shape + (2,), 'a', object)}
            continue
        yield f'{key!r} of wrong shape', key, {**others, key: np.zeros(spec.shape + (2,), spec.dtype)}
        yield f'{key!r} of type str', key, {**others, key: 'not a number'}
        if isinstance(spec, dm_specs.BoundedArray):
            high = np.broadcast_to(spec.maximum, spec.shape)
            if np.all(np.isfinite(high)) and (spec.dtype.kind == 'f' or np.all(high < np.iinfo(spec.dtype).max)):
                above = high.astype(np.float64) + 1
                above = above.astype(spec.dtype) if spec.dtype.kind in 'iu' else above
                yield f'{key!r} above its maximum', key, {**others, key: above}
        if specs_lib.is_float(spec):
            yield f'{key!r} NaN', key, {**others, key: np.full(spec.shape, np.nan, spec.dtype)}


def _batched(actions: Mapping[str, Any], num_envs: int) -> dict[str, np.ndarray]:
    """The same action for every environment of a batch."""
    return {key: np.stack([np.asarray(value)] * num_envs) for key, value in actions.items()}


def _expect_rejected(execute: Callable[[dict], Any], cases: Iterator[tuple[str, str, dict]]) -> None:
    for case, key, actions in cases:
        try:
            execute(actions)
        except SpecError as error:
            if error.key != key and repr(key) not in str(error):
                raise _Failure(BAD_ACTION_UNNAMED.format(case=case, key=key, error=error)) from None
        except Exception as error:  # noqa: BLE001
            raise _Failure(BAD_ACTION_WRONG_ERROR.format(
                case=case, type=type(error).__name__, error=error)) from None
        else:
            raise _Failure(BAD_ACTION_ACCEPTED.format(case=case, key=key))


def _task_random(env: Any) -> np.random.RandomState | None:
    """The random state of a wrapped dm_control task (``env.env.task.random``), if any."""
    random = getattr(getattr(getattr(env, 'env', None), 'task', None), 'random', None)
    return random if isinstance(random, np.random.RandomState) else None


class _Checker:
    def __init__(self, env: Any, steps: int, seed: int, max_steps: int):
        self.env, self.steps, self.seed, self.max_steps = env, steps, seed, max_steps
        self.passed: list[str] = []
        self.skipped: list[tuple[str, str]] = []
        self.failures: list[tuple[str, str]] = []
        # an Environment (or VectorEnvironment) that is inside an episode cannot show execute-before-reset
        self.used = getattr(env, '_needs_reset', True) is False
        self.reseed: Callable[[int], Any] | None = None
        self.unseedable: str | None = None
        self.first_episode = 0

    def run(self, name: str, check: Callable[[], bool | None], needs: tuple[str, ...] = ()) -> None:
        for needed in needs:
            if needed not in self.passed:
                reason = SKIP_NOT_DETERMINISTIC if needed == 'determinism' else SKIP_NEEDS.format(check=needed)
                self.skipped.append((name, reason))
                return
        try:
            check()
        except _Skip as skip:
            self.skipped.append((name, str(skip)))
        except _Failure as failure:
            self.failures.append((name, str(failure)))
        except Exception as error:  # noqa: BLE001 - an adapter bug is a failed check
            self.failures.append((name, RAISED.format(error=error)))
        else:
            self.passed.append(name)

    # -- the checks ----------------------------------------------------------

    def specs(self) -> None:
        for what in ('states', 'actions'):
            declared = getattr(self.env, what)
            if not isinstance(declared, Mapping):
                raise _Failure(NOT_A_MAPPING.format(what=what, type=type(declared).__name__))
            for key, spec in declared.items():
                if not isinstance(spec, dm_specs.Array):
                    raise _Failure(NOT_A_SPEC.format(what=what, key=key, type=type(spec).__name__))
                if spec.name != key:
                    raise _Failure(WRONG_NAME.format(what=what, key=key, name=spec.name))
                if isinstance(spec, dm_specs.BoundedArray):
                    low, high = np.asarray(spec.minimum), np.asarray(spec.maximum)
                    if np.any(np.isnan(low)) or np.any(np.isnan(high)) or np.any(low > high):
                        raise _Failure(BAD_BOUNDS.format(what=what, key=key))
        if not self.env.states:
            raise _Failure(NO_STATES)

    def stable_specs(self) -> None:
        for what in ('states', 'actions'):
            if getattr(self.env, what) is not getattr(self.env, what):
                raise _Failure(NOT_STABLE.format(what=what))

    def execute_before(self) -> None:
        if self.used:
            raise _Skip(SKIP_USED)
        outcome = _outcome(lambda: self.env.execute(self.sample_actions(np.random.default_rng(0))))
        if outcome is not None:
            raise _Failure(EXECUTE_BEFORE_RESET_ALLOWED.format(outcome=outcome))

    def reset(self) -> None:
        """Also finds how to reseed: reset(seed=...), a dm_control task's random state, or not at all."""
        try:
            states = self.env.reset(seed=self.seed)
            self.reseed = lambda seed: self.env.reset(seed=seed)
        except ConfigError as error:
            random = _task_random(self.env)
            if random is None:
                self.unseedable = SKIP_UNSEEDABLE.format(error=error)
            else:
                def reseed(seed: int, random: Any = random) -> Any:
                    random.seed(seed)
                    return self.env.reset()

                self.reseed = reseed
            states = self.start(self.seed)
        _check_values('reset()', states, self.env.states)

    def step(self) -> None:
        self.start(self.seed)
        step = self.env.execute(self.sample_actions(np.random.default_rng(self.seed)))
        if not isinstance(step, Step):
            raise _Failure(NOT_A_STEP.format(type=type(step).__name__))
        if not isinstance(step.terminal, Terminal):
            raise _Failure(BAD_TERMINAL.format(value=step.terminal, type=type(step.terminal).__name__))
        if not isinstance(step.reward, float) or not np.isfinite(step.reward):
            raise _Failure(BAD_REWARD.format(value=step.reward, type=type(step.reward).__name__))
        if not isinstance(step.info, dict):
            raise _Failure(BAD_INFO.format(type=type(step.info).__name__))
        _check_values('execute()', step.states, self.env.states)

    def bad_actions(self) -> None:
        self.start(self.seed)
        valid = self.sample_actions(np.random.default_rng(self.seed))
        _expect_rejected(self.env.execute, _bad_actions(self.env.actions, valid))

    def determinism(self) -> None:
        if self.reseed is None:
            raise _Skip(self.unseedable)
        self.reference = self.rollout()
        self.compare(self.reference, self.rollout(), NOT_DETERMINISTIC)

    def fresh_arrays(self) -> None:
        mutated = self.rollout(mutate=True)  # fails on shared memory whether or not deterministic
        if 'determinism' in self.passed:
            self.compare(self.reference, mutated, MUTATION_LEAKED)

    def seeding(self) -> None:
        first = self.rollout(episodes=2)[self.first_episode:]
        second = self.rollout(episodes=2)[self.first_episode:]
        self.compare(first, second, NOT_CONTINUED)

    def after_end(self) -> None:
        env, rng = self.env, np.random.default_rng(self.seed)
        self.start(self.seed)
        for _ in range(self.max_steps):
            step = env.execute(self.sample_actions(rng))
            if step.terminal != Terminal.NONE:
                outcome = _outcome(lambda: env.execute(self.sample_actions(rng)))
                if outcome is not None:
                    raise _Failure(EXECUTE_AFTER_END_ALLOWED.format(
                        terminal=step.terminal.name, outcome=outcome))
                return
        raise _Skip(SKIP_NO_END.format(max_steps=self.max_steps))

    def close(self) -> None:
        for call in (1, 2):
            try:
                self.env.close()
            except Exception as error:  # noqa: BLE001
                raise _Failure(CLOSE_FAILED.format(call=call, error=error)) from None

    # -- helpers -------------------------------------------------------------

    def start(self, seed: int) -> Any:
        """Resets with `seed` if the environment can be reseeded, else without."""
        return self.reseed(seed) if self.reseed is not None else self.env.reset()

    def sample_actions(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {key: specs_lib.sample(spec, rng) for key, spec in self.env.actions.items()}

    def rollout(self, mutate: bool = False, episodes: int = 1) -> list[tuple[dict[str, np.ndarray], float, int]]:
        """Up to `steps` steps from reset(seed) (then, for `episodes` 2, as many from reset());
        records copies. With `mutate`, also checks that no result shares memory with the one
        before and mutates every result."""
        rng = np.random.default_rng(self.seed)
        records: list[tuple[dict[str, np.ndarray], float, int]] = []
        for episode in range(episodes):
            if episode == 1:
                self.first_episode = len(records)
            states = self.start(self.seed) if episode == 0 else self.env.reset()
            previous: list[Mapping[str, Any]] = []
            reward, terminal = 0.0, Terminal.NONE
            for index in range(self.steps + 1):
                method = 'reset()' if index == 0 else 'execute()'
                for earlier in previous if mutate else ():
                    for key, value in states.items():
                        if isinstance(value, np.ndarray) and np.shares_memory(value, earlier[key]):
                            raise _Failure(SHARED_MEMORY.format(method=method, key=key))
                records.append(({k: np.array(v, copy=True) for k, v in states.items()}, reward, int(terminal)))
                if mutate:
                    for value in states.values():
                        _mutate(value)
                previous = [states]
                if terminal != Terminal.NONE or index == self.steps:
                    break
                step = self.env.execute(self.sample_actions(rng))
                states, reward, terminal = step.states, step.reward, step.terminal
        return records

    def compare(self, first: list, second: list, message: str) -> None:
        for index, (a, b) in enumerate(zip(first, second)):
            for key in a[0]:
                if not _equal(a[0][key], b[0][key]):
                    raise _Failure(message.format(seed=self.seed, what=f'state {key!r}', step=index))
            if a[1] != b[1]:
                raise _Failure(message.format(seed=self.seed, what='reward', step=index))
            if a[2] != b[2]:
                raise _Failure(message.format(seed=self.seed, what='terminal', step=index))
        if len(first) != len(second):
            raise _Failure(message.format(seed=self.seed, what='episode length',
                                          step=min(len(first), len(second))))


def check(env: Environment | Callable[[], Environment], *, steps: int = 20, seed: int = 0,
          max_steps: int = 1000, raise_on_failure: bool = True) -> CheckReport:
    """Runs every conformance check; see the module docstring.

    >>> from modalbridge.bridges import GymBridge
    >>> check(GymBridge('CartPole-v1')).ok
    True

    `steps` executes are compared for determinism and freshness; `after_end`
    steps up to `max_steps` looking for an episode end. The environment is
    closed at the end. Raises `CheckFailed` (unless `raise_on_failure` is
    False) listing every failed check. A `BatchedEnvironment` (`VectorEnvironment`,
    `EnvPoolBridge`) gets the checks that apply to a batch.
    """
    if callable(env) and not isinstance(env, Environment):
        env = env()
    if isinstance(env, BatchedEnvironment):
        return _check_vector(env, steps, seed, raise_on_failure)
    checker = _Checker(env, steps, seed, max_steps)
    checker.run('specs', checker.specs)
    checker.run('stable_specs', checker.stable_specs)
    checker.run('execute_before', checker.execute_before)
    checker.run('reset', checker.reset)
    checker.run('step', checker.step, needs=('reset',))
    checker.run('bad_actions', checker.bad_actions, needs=('reset',))
    checker.run('determinism', checker.determinism, needs=('reset',))
    checker.run('fresh_arrays', checker.fresh_arrays, needs=('reset',))
    checker.run('seeding', checker.seeding, needs=('determinism',))
    checker.run('after_end', checker.after_end, needs=('reset',))
    checker.run('close', checker.close)
    return _report(repr(env), checker, raise_on_failure)


def _report(environment: str, checker: _Checker, raise_on_failure: bool) -> CheckReport:
    report = CheckReport(environment, tuple(checker.passed), tuple(checker.skipped), tuple(checker.failures))
    if report.failures and raise_on_failure:
        raise CheckFailed(report)
    return report


def _check_vector(env: Any, steps: int, seed: int, raise_on_failure: bool) -> CheckReport:
    """The checks that apply to a batch: specs, order, batched reset/execute, bad actions, close."""
    checker = _Checker(env, steps, seed, 0)
    count = env.num_envs

    def batched(method: str, states: Mapping[str, Any]) -> None:
        if not isinstance(states, Mapping) or set(states) != set(env.states):
            received = sorted(states) if isinstance(states, Mapping) else type(states).__name__
            raise _Failure(WRONG_KEYS.format(method=method, received=received, expected=sorted(env.states)))
        for key, spec in env.states.items():
            value = states[key]
            if not isinstance(value, np.ndarray) or value.shape != (count,) + spec.shape:
                raise _Failure(NOT_BATCHED.format(method=method, key=key, received=getattr(value, 'shape', None),
                                                  num_envs=count, expected=(count,) + spec.shape))
            for row in value:
                try:
                    specs_lib.validate(spec, row, key)
                except SpecError as error:
                    raise _Failure(INVALID_STATE.format(method=method, error=error)) from None

    def sample(rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {key: np.stack([specs_lib.sample(spec, rng) for _ in range(count)])
                for key, spec in env.actions.items()}

    def execute_before() -> None:
        if checker.used:
            raise _Skip(SKIP_USED)
        outcome = _outcome(lambda: env.execute(sample(np.random.default_rng(0))))
        if outcome is not None:
            raise _Failure(EXECUTE_BEFORE_RESET_ALLOWED.format(outcome=outcome))

    def run_steps() -> None:
        batched('reset()', env.reset(seed=seed))
        rng = np.random.default_rng(seed)
        for _ in range(steps):
            step = env.execute(sample(rng))
            batched('execute()', step.states)
            reward, terminal = np.asarray(step.reward), np.asarray(step.terminal)
            if reward.shape != (count,) or not np.all(np.isfinite(reward)):
                raise _Failure(BAD_BATCH.format(what='rewards', received=reward, expected=f'{count} finite floats'))
            if terminal.shape != (count,) or np.any((terminal < 0) | (terminal > 2)):
                raise _Failure(BAD_BATCH.format(what='terminals', received=terminal, expected=f'{count} Terminal values'))
            mask = np.asarray(step.info.get('final_mask'))
            if mask.shape != (count,) or not np.array_equal(mask, terminal != Terminal.NONE):
                raise _Failure(BAD_BATCH.format(what="info['final_mask']", received=mask,
                                                expected='the environments whose terminal is not NONE'))

    def bad_actions() -> None:
        env.reset(seed=seed)
        valid = {key: specs_lib.sample(spec, np.random.default_rng(seed)) for key, spec in env.actions.items()}
        _expect_rejected(lambda actions: env.execute(_batched(actions, count)), _bad_actions(env.actions, valid))

    checker.run('specs', checker.specs)
    checker.run('stable_specs', checker.stable_specs)
    checker.run('execute_before', execute_before)
    checker.run('batched_steps', run_steps)
    checker.run('bad_actions', bad_actions, needs=('batched_steps',))
    checker.run('close', checker.close)
    return _report(repr(env), checker, raise_on_failure)
