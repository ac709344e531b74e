"""The core knows no modality: no string the core's code uses at run time names one.

Every ``crossmodal/**/*.py`` is parsed with :mod:`ast`; its string literals (the parts of
f-strings included) that are not docstrings must not hold a modality word. Docstrings and
comments may name the Jukepix plugin as an example; an error message, a help text or a report
line may not, since every plugin's users read them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "crossmodal"

MODALITY_WORDS = re.compile(
    r"jukepix|painting|picture|photo|\bimages?\b|\bpixels?\b|video|music|midi|piano|pitch|audio|\bwav\b|"
    r"\bsounds?\b|\bsong|melod|\bchords?\b|chorale|phrase|\bbars\b|binaris",
    re.IGNORECASE,
)
"""Words that name a modality (pictures, music, sound) or the shipped plugin. ``\\b`` keeps
generic words out: a ``note:`` line, a progress ``bar``, ``barrier``, ``soundness``..."""

SKIPPED: set[str] = set()
"""Files not checked (none: every core module's runtime strings are modality-free)."""

DEPRECATED = {"--audio", "--audio is now --render; --audio goes in 0.3"}
"""Strings that name a modality on purpose: ``generate --audio``, the former name of ``--render``,
and its deprecation line, until 0.3 removes them."""


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings (a module's, class's or function's,
    or the string right after an assignment, which documents it)."""
    found = set()
    for node in ast.walk(tree):
        bodies = []
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            bodies.append(node.body[:1])
        for body in (getattr(node, "body", None), getattr(node, "orelse", None)):
            if isinstance(body, list):
                bodies.extend(body[i + 1: i + 2] for i, statement in enumerate(body)
                              if isinstance(statement, (ast.Assign, ast.AnnAssign)))
        for statements in bodies:
            for statement in statements:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
                        and isinstance(statement.value.value, str):
                    found.add(id(statement.value))
    return found


def runtime_strings(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of every string literal in ``source`` that is not a docstring; an
    f-string gives its literal parts."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def modality_words(source: str) -> list[str]:
    """``line: word in 'text'`` for each runtime string of ``source`` that names a modality."""
    return [f"{line}: {match.group(0)!r} in {text!r}"
            for line, text in runtime_strings(source) for match in [MODALITY_WORDS.search(text)]
            if match and text not in DEPRECATED]


def _core_files() -> list[Path]:
    return sorted(path for path in CORE.rglob("*.py") if path.relative_to(CORE).as_posix() not in SKIPPED)


@pytest.mark.parametrize("path", _core_files(), ids=lambda path: str(path.relative_to(CORE)))
def test_no_runtime_string_of_the_core_names_a_modality(path):
    assert modality_words(path.read_text(encoding="utf-8")) == []


def test_the_check_sees_f_strings_and_skips_docstrings():
    source = '''
"""A module about paintings."""
LABEL = "a picture"
"""Documents LABEL: music."""


def f(x):
    """Makes piano phrases."""
    raise ValueError(f"{x}: needs --image and a descriptor such as 'mean-pitch'")
'''
    found = modality_words(source)
    assert [line.split(":")[0] for line in found] == ["3", "9"]
    assert "'picture'" in found[0] and "'image'" in found[1]


@pytest.mark.parametrize("text", [
    ": needs must be a tuple of plugin names, such as ('jukepix',), not ",  # the issue's examples
    "an imaginary {} is not a long option name such as '--image'",
    "every one silent once binarised, say",
    "e.g. ('brightness', 'mean-pitch', +1)",
    "audio: ",
])
def test_the_words_of_the_issue_are_caught(text):
    assert MODALITY_WORDS.search(text)


@pytest.mark.parametrize("text", ["note: ", "a progress bar", "barrier", "denoted", "imagine", "soundness",
                                  "condition", "sample renderer", "descriptor"])
def test_generic_words_pass(text):
    assert not MODALITY_WORDS.search(text)
