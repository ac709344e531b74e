"""The one exception that marks an input file as unusable, with a countable reason.

Public: :class:`SkipFile`.
"""

from __future__ import annotations

__all__ = ["SkipFile"]


class SkipFile(Exception):
    """An input file that gives no sample; ``str(err)`` is ``"<category>: <detail>"``.

    ``category`` is one of a few fixed strings (``"unreadable"``, ``"too large"``, ``"no notes"``,
    ...), so a run can count skips by category; ``detail`` says what was found. Neither names the
    file: whoever reports the skip prints ``<file>: <reason>`` once.
    """

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(f"{category}: {detail}")
        self.category = category
        self.detail = detail
