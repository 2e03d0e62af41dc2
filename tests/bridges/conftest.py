import signal

import pytest


@pytest.fixture
def ctrl_c():
    """SIGINT raises KeyboardInterrupt in this test, as at a terminal, even where pytest was started as a
    background job of a non-interactive shell (which starts Python with SIGINT ignored, so Python installs
    no handler and a test's simulated Ctrl-C would be lost)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
