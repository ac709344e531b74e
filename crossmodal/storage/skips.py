"""Input files that give no sample: how they are marked, counted and reported, for the core and
for plugins.

Public: :class:`SkipFile`, :func:`skip_line`, :func:`skip_counts`, :func:`report_skipped`.

A sample set leaves out the files it cannot use and lists them in its ``skipped`` attribute as
``(path, reason)`` pairs (see ``crossmodal_register_components``); a reason reads
``"<category>: <detail>"``, so a run can count its skips by category. Every command reports a
skip as one line on stderr, ``skipped <path>: <reason>`` (:func:`skip_line`), the path and the
reason escaped by :func:`crossmodal.storage.files.shown` so that a file name cannot forge a log line.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import click

from crossmodal.storage.files import shown

__all__ = ["SkipFile", "report_skipped", "skip_counts", "skip_line"]


class SkipFile(Exception):
    """An input file that gives no sample; ``str(err)`` is ``"<category>: <detail>"``.

    ``category`` is one of a few fixed strings per plugin (``"unreadable"``, ``"too large"``,
    ``"no notes"``...), so a run can count skips by category (:func:`skip_counts`); ``detail``
    says what was found. Neither names the file: whoever reports the skip prints
    ``<file>: <reason>`` once (:func:`skip_line`).
    """

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(f"{category}: {detail}")
        self.category = category
        self.detail = detail


def skip_line(path: object, reason: object) -> str:
    """``skipped <path>: <reason>`` on one line, the path escaped and named once.

    A reason that starts by naming the file loses that prefix; any other mention of the file in
    the reason is shortened to ``...``.
    """
    name, text = str(path), str(reason)
    for prefix in (f"{name}: ", f"{shown(name)}: "):  # a reason that starts by naming the file
        if name and text.startswith(prefix):
            text = text[len(prefix):]
            break
    if name and name in text:
        text = text.replace(name, "...")
    return f"skipped {shown(name)}: {shown(text)}"


def skip_counts(skipped: Iterable[tuple[object, object]]) -> dict[str, int]:
    """Skips per category (the part of each reason before the first colon), most frequent first
    (ties in order of first appearance)."""
    return dict(Counter(str(reason).split(":", 1)[0] for _, reason in skipped).most_common())


def report_skipped(sample_set: object, summary: bool = True, details: bool = True, hint: str = "") -> None:
    """Print one :func:`skip_line` per file ``sample_set.skipped`` lists, to stderr.

    :param sample_set: anything with a ``skipped`` list of ``(path, reason)`` pairs (a set
        without one has skipped nothing).
    :param summary: then print ``N file(s) skipped: <count> <category>, ...`` (most frequent
        first), when anything was skipped.
    :param details: print the per-file lines (``False``: only the summary, e.g. ``train`` without
        ``--verbose``).
    :param hint: appended to the summary line after ``"; "``, e.g. where the per-file lines are.
    """
    skipped = list(getattr(sample_set, "skipped", ()) or ())
    if details:
        for path, reason in skipped:
            click.echo(skip_line(path, reason), err=True)
    if summary and skipped:
        counts = ", ".join(f"{count} {shown(category)}" for category, count in skip_counts(skipped).items())
        click.echo(f"{len(skipped)} file(s) skipped: {counts}" + (f"; {hint}" if hint else ""), err=True)
