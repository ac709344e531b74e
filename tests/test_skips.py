"""crossmodal.storage.skips: one line per skipped file, counts by category, the same text everywhere."""

from __future__ import annotations

from crossmodal import SkipFile, report_skipped, skip_counts, skip_line


def test_skip_file_reason_is_category_then_detail():
    err = SkipFile("unreadable", "not a data file")
    assert str(err) == "unreadable: not a data file" and (err.category, err.detail) == ("unreadable", "not a data file")


def test_skip_counts_counts_categories_most_frequent_first():
    skipped = [("a", "too short: 3 rows"), ("b", "unreadable: empty"), ("c", "unreadable: text")]
    assert list(skip_counts(skipped).items()) == [("unreadable", 2), ("too short", 1)]
    assert skip_counts([]) == {}


def test_skip_line_names_the_file_once():
    assert skip_line("data/x.txt", "data/x.txt: unreadable: empty") == "skipped data/x.txt: unreadable: empty"
    assert skip_line("x.txt", "unreadable: cannot open x.txt") == "skipped x.txt: unreadable: cannot open ..."


def test_report_skipped_without_summary_prints_only_the_lines(capsys):
    class Data:
        skipped = [("a.txt", "too short: 3 rows"), ("b.txt", "unreadable: empty")]

    report_skipped(Data(), summary=False)
    assert capsys.readouterr().err.splitlines() == ["skipped a.txt: too short: 3 rows", "skipped b.txt: unreadable: empty"]
    report_skipped(object())  # a set without ``skipped`` skipped nothing
    assert capsys.readouterr().err == ""
