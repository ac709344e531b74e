"""The core's layers (docs/concepts.md, "The tree"): a subpackage imports, at run time, only from
its own layer and the layers below it. Imports under ``if TYPE_CHECKING:`` are for type checkers
only and do not count."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "crossmodal"

LAYERS = (
    {"errors", "version"},
    {"storage"},
    {"contract"},
    {"data"},
    {"losses"},
    {"job"},
    {"evaluation"},
    {"training", "callbacks"},  # the loop calls its callbacks, and they read the trainer
    {"generation"},
    {"cli", "__init__", "__main__"},
)
"""Lowest first; a name is a subpackage, or a top-level module without its ``.py``."""

LAYER_OF = {name: level for level, names in enumerate(LAYERS) for name in names}


def _part(path: Path) -> str:
    """The subpackage (or top-level module) ``path`` belongs to."""
    relative = path.relative_to(PACKAGE).parts
    return relative[0] if len(relative) > 1 else relative[0].removesuffix(".py")


def runtime_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, first part after crossmodal.)`` of every ``from crossmodal.X... import`` in ``path``
    that runs at run time (function-local imports included, ``if TYPE_CHECKING:`` blocks not)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(node) for block in ast.walk(tree)
                   if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                   for node in ast.walk(block)}
    return [(node.lineno, node.module.split(".")[1]) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and id(node) not in typing_only
            and node.module and node.module.startswith("crossmodal.")]


def upward_imports(path: Path) -> list[str]:
    """``"file:line imports X"`` for each run-time import of ``path`` from a higher layer."""
    own = LAYER_OF[_part(path)]
    return [f"{path.relative_to(PACKAGE.parent)}:{line} imports crossmodal.{target}"
            for line, target in runtime_imports(path) if LAYER_OF.get(target, -1) > own]


def test_every_part_of_the_core_has_a_layer():
    parts = {_part(path) for path in PACKAGE.rglob("*.py")}
    assert parts <= set(LAYER_OF), sorted(parts - set(LAYER_OF))


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_nothing_from_a_higher_layer(path):
    assert not upward_imports(path)


def test_an_upward_import_is_caught(tmp_path, monkeypatch):
    module = PACKAGE / "storage" / "files.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: "from crossmodal.training import distributed\n")
    assert upward_imports(module) == ["crossmodal/storage/files.py:1 imports crossmodal.training"]
