"""`retain_freed_memory`: glibc keeps freed blocks for reuse."""

from __future__ import annotations

import sys

import pytest

from modalbridge.bridges import ConfigError
from modalbridge.bridges.memory import retain_freed_memory


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc only')
def test_glibc_accepts_the_thresholds():
    assert retain_freed_memory() is True
    assert retain_freed_memory(4 * 2**20) is True


@pytest.mark.parametrize('threshold', [0, -1, True, 2.5, 2**40, '1'])
def test_a_bad_threshold_is_refused_naming_it(threshold):
    with pytest.raises(ConfigError, match='retain_freed_memory: threshold'):
        retain_freed_memory(threshold)
