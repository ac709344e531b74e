"""Fixtures for every test under tests/."""

from __future__ import annotations

import signal

import pytest


@pytest.fixture(autouse=True, scope="session")
def ctrl_c_is_delivered():
    """A test run started in the background (``cmd &`` in a script) inherits SIGINT ignored, and
    crossmodal rightly leaves an ignored signal ignored; the Ctrl-C tests send SIGINT on purpose,
    so this session (and the processes it starts) takes it as Python does by default."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
