"""SIGINT and SIGTERM as a request to stop training at the next step boundary."""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

import torch

from . import distributed


class StopSignals:
    """While entered, SIGINT and SIGTERM set :attr:`received` instead of stopping the process;
    a second signal raises :class:`KeyboardInterrupt` at once. The previous handlers come back
    on exit.

    Only the main thread can install handlers (elsewhere nothing is installed), and a signal
    that was ignored (e.g. SIGINT of a background job) stays ignored.
    """

    def __init__(self) -> None:
        self.received = 0  # the signal that asked to stop (0: none)
        self._previous: dict[int, Any] = {}

    def _ask_to_stop(self, signal_number: int, frame: FrameType | None) -> None:
        if self.received:  # a second signal: stop now, without a checkpoint
            self._restore()
            raise KeyboardInterrupt
        self.received = signal_number

    def _restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                old = signal.getsignal(number)
                if old == signal.SIG_IGN:
                    continue
                self._previous[number] = signal.SIG_DFL if old is None else old
                signal.signal(number, self._ask_to_stop)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._restore()

    def agreed(self, world_size: int, device: torch.device) -> int:
        """The signal that asked the run to stop (0: none), the same on every process: with
        several processes the flags are combined with one all-reduce (SIGINT wins)."""
        stop = self.received
        if world_size > 1:
            flags = torch.tensor([stop == signal.SIGINT, stop == signal.SIGTERM], dtype=torch.float32, device=device)
            asked_int, asked_term = distributed.all_reduce_mean(flags).tolist()
            stop = signal.SIGINT if asked_int > 0 else signal.SIGTERM if asked_term > 0 else 0
        return int(stop)
