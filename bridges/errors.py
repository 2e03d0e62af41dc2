"""The error hierarchy shared by every layer of modalbridge.

All errors derive from `ModalbridgeError`, so a caller can catch the
library's own failures in one clause::

        try:
                env.execute({'action': 7})
        except SpecError as error:
                print(error.key, error.expected, error.received)
"""

from __future__ import annotations

from typing import Any


class ModalbridgeError(Exception):
    """Base class of every error modalbridge raises on purpose."""


class SpecError(ModalbridgeError, ValueError):
    """A value does not fit its spec.

    The message names the key, what the spec expects and what was received;
    the three parts are also kept as attributes.
    """

    def __init__(self, key: str | None, expected: str, received: str):
        self.key = key
        self.expected = expected
        self.received = received
        where = f'{key!r}' if key is not None else 'value'
        super().__init__(f'{where}: expected {expected}; received {received}')

    def __reduce__(self):
        # rebuilt from its parts, so it crosses process boundaries (pickle) intact
        return type(self), (self.key, self.expected, self.received)


class ConfigError(ModalbridgeError, ValueError):
    """A declaration (spec, space, preprocessing, network, agent) is invalid."""


class ResetNeeded(ModalbridgeError, RuntimeError):
    """A method was called out of order (execute before reset or after the end)."""


class EnvironmentFailure(ModalbridgeError, RuntimeError):
    """The wrapped environment raised, or a worker process died.

    The original exception is kept in `original` (and chained as `__cause__`).
    """

    def __init__(self, message: str, original: BaseException | None = None):
        super().__init__(message)
        self.original = original

    def __reduce__(self):
        return type(self), (str(self), self.original)


class CheckFailed(ModalbridgeError, AssertionError):
    """`check(env)` found one or more conformance failures; `report` lists them."""

    def __init__(self, report: Any):
        self.report = report
        lines = '\n'.join(f'  - [{name}] {message}' for name, message in report.failures)
        super().__init__(f'{len(report.failures)} conformance check(s) failed:\n{lines}')
