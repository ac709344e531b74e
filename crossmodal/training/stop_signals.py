"""SIGINT and SIGTERM as a request to stop training soon, with a checkpoint.

The first signal is answered at once with one line on stderr; training stops after the update
that is running (single process: between two critic updates too) or, with several processes,
at the next generator-step boundary, where they agree (one all-reduce per step, never one per
critic update).
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

import torch

from crossmodal.training import distributed


class StopSignals:
    """While entered, SIGINT and SIGTERM set :attr:`received` instead of stopping the process;
    a second signal raises :class:`KeyboardInterrupt` at once. The previous handlers come back
    on exit.

    Only the main thread can install handlers (elsewhere nothing is installed), and a signal
    that was ignored (e.g. SIGINT of a background job) stays ignored.

    :param stops_after: what the line written on the first signal says training stops after
        (``"update"``, or ``"generator step"`` when several processes must agree).
    :param announce: whether to write that line (the main process of a distributed run only).
    """

    def __init__(self, stops_after: str = "update", announce: bool = True) -> None:
        self.received = 0  # the signal that asked to stop (0: none)
        self.stops_after, self.announce = stops_after, announce
        self._previous: dict[int, Any] = {}

    def _ask_to_stop(self, signal_number: int, frame: FrameType | None) -> None:
        if self.received:  # a second signal: stop now, without a checkpoint
            self._restore()
            raise KeyboardInterrupt
        self.received = signal_number
        if self.announce:
            self._write_notice(signal_number)

    def _write_notice(self, signal_number: int) -> None:
        """``stopping after the current update; Ctrl-C again to stop now without saving`` on
        stderr, written straight to file descriptor 2 (a buffered ``sys.stderr`` may be in the
        middle of a write the signal interrupted); on a terminal it starts a new line, below
        the progress bar."""
        again = "Ctrl-C" if signal_number == signal.SIGINT else signal.Signals(signal_number).name
        line = f"stopping after the current {self.stops_after}; {again} again to stop now without saving\n"
        try:
            os.write(2, (("\n" if os.isatty(2) else "") + line).encode())
        except OSError:  # no stderr left to tell: stopping still goes on
            pass

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

    def between_updates(self, world_size: int) -> int:
        """The signal that asks to stop between two critic updates of a step (0: none): one
        process stops there; several answer 0 and agree at the step's end (:meth:`agreed`), so
        that no collective runs per critic update."""
        return self.received if world_size == 1 else 0
