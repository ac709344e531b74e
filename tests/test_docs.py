"""The documentation under docs/ agrees with the code.

* docs/hooks.md documents every hook in ``crossmodal.contract.hookspecs``, and names no hook that is not there;
* docs/cli.md has a section for every command of ``make_cli()`` (with the installed plugins
  loaded, so their commands count too), listing each of its long options;
* every name in ``crossmodal.__all__`` has a docstring;
* relative links between the pages resolve;
* every ```python block marked ``<!-- runs in tests/test_docs.py -->`` runs as written, with the
  palette example (docs/examples/crossmodal-palette) importable;
* every code block of docs/plugin-guide.md is checked: each ```python block is marked (so it
  runs), each ```toml block parses (and one describing the example agrees with its
  pyproject.toml), and each command of a ```bash block either runs here (``python -c``), is run by
  tests/test_example_plugin.py, or names a ``crossmodal`` command with options that parse.

The Jukepix pages (data.md, jukepix.md) are checked against the plugin's code by
plugins/jukepix/tests/test_jukepix_docs.py, since the core's tests never import jukepix.
"""

from __future__ import annotations

import ast
import inspect
import re
import shlex
import sys
import textwrap
import tomllib
import types
from pathlib import Path

import click
import pytest

import crossmodal
from crossmodal.contract import hookspecs
from crossmodal.cli import make_cli

DOCS = Path(__file__).resolve().parents[1] / "docs"
PACKAGE = Path(crossmodal.__file__).resolve().parent

HOOKS = sorted(
    name for name, obj in vars(hookspecs).items()
    if name.startswith(f"{hookspecs.PROJECT_NAME}_") and callable(obj)
    and hasattr(obj, f"{hookspecs.PROJECT_NAME}_spec")
)


def test_hookspecs_are_found():
    assert "crossmodal_register_components" in HOOKS and "crossmodal_api_version" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_hooks_md(hook):
    headings = re.findall(r"^#+ `([a-z_]+)\(", (DOCS / "hooks.md").read_text(encoding="utf-8"), re.M)
    assert hook in headings, f"docs/hooks.md has no '### `{hook}(...)`' section"


def test_hooks_md_names_only_real_hooks():
    mentioned = set(re.findall(r"\bcrossmodal_[a-z_]+", (DOCS / "hooks.md").read_text(encoding="utf-8")))
    assert mentioned - set(HOOKS) == set(), "docs/hooks.md mentions hooks that crossmodal.contract.hookspecs lacks"


def test_hook_parameters_in_hooks_md_match_the_specs():
    text = (DOCS / "hooks.md").read_text(encoding="utf-8")
    for hook in HOOKS:
        (documented,) = re.findall(rf"^#+ `{hook}\(([^)]*)\)`", text, re.M)
        parameters = list(inspect.signature(getattr(hookspecs, hook)).parameters)
        assert [p.strip() for p in documented.split(",") if p.strip()] == parameters, hook


# -------------------------------------------------------------------------------------------
# docs/cli.md
# -------------------------------------------------------------------------------------------


def _commands(group: click.Group, ctx: click.Context, path: str):
    """``(full name, command)`` for every command under ``group``, recursively."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        full = f"{path} {name}"
        yield full, command
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, info_name=name, parent=ctx), full)


def _long_options(command: click.Command) -> set[str]:
    return {
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--") and opt != "--help"
    }


def _sections(text: str) -> dict[str, str]:
    """Heading text (without ``#``) -> the text up to the next heading."""
    parts = re.split(r"^(#+ .*)$", text, flags=re.M)
    return {heading.lstrip("#").strip(): body for heading, body in zip(parts[1::2], parts[2::2])}


@pytest.fixture(scope="module")
def cli_commands():
    """The command line as users get it: every installed plugin loaded (allow-list unset)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CROSSMODAL_LOAD_PLUGINS", raising=False)
        patch.delenv("CROSSMODAL_STRICT_PLUGINS", raising=False)
        cli = make_cli()
        ctx = click.Context(cli, info_name="crossmodal")
        commands = [("crossmodal", cli), *_commands(cli, ctx, "crossmodal")]
    return commands


def test_cli_md_documents_every_command_and_long_option(cli_commands):
    sections = _sections((DOCS / "cli.md").read_text(encoding="utf-8"))
    names = [name for name, _ in cli_commands]
    assert {"crossmodal list-components", "crossmodal train", "crossmodal generate", "crossmodal evaluate"} <= set(names)
    problems = []
    for name, command in cli_commands:
        if name not in sections:
            problems.append(f"no '## {name}' section")
            continue
        missing = sorted(opt for opt in _long_options(command) if not re.search(rf"`{opt}\b", sections[name]))
        if missing:
            problems.append(f"{name}: undocumented option(s) {', '.join(missing)}")
    assert not problems, "docs/cli.md is out of date:\n" + "\n".join(problems)


def test_cli_md_documents_no_option_that_does_not_exist(cli_commands):
    """An option documented under a command must exist (plugin commands not loaded here are skipped)."""
    sections = _sections((DOCS / "cli.md").read_text(encoding="utf-8"))
    commands = dict(cli_commands)
    problems = []
    for name, body in sections.items():
        if name not in commands:
            continue
        stale = set(re.findall(r"`(--[a-z0-9-]+)", body)) - _long_options(commands[name]) - {"--help"}
        if stale:
            problems.append(f"{name}: {', '.join(sorted(stale))}")
    assert not problems, "docs/cli.md documents options that do not exist:\n" + "\n".join(problems)


# -------------------------------------------------------------------------------------------
# Docstrings of the public API
# -------------------------------------------------------------------------------------------


def _attribute_docstrings(module_path: Path) -> dict[str, str]:
    """``NAME = value`` followed by a string literal: NAME -> that string (as Sphinx reads them)."""
    tree = ast.parse(module_path.read_text(encoding="utf-8"))
    docs = {}
    for node, following in zip(tree.body, tree.body[1:]):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            for target in targets:
                if isinstance(target, ast.Name):
                    docs[target.id] = following.value.value
    return docs


def _defining_module(name: str) -> Path:
    """The crossmodal module that ``crossmodal/__init__.py`` exports ``name`` from (or itself)."""
    module = {**crossmodal._EXPORTS, "__version__": "version"}.get(name)  # the lazy export table (PEP 562)
    return PACKAGE / f"{module.replace('.', '/')}.py" if module else PACKAGE / "__init__.py"


_BUILTIN_VALUES = (str, int, float, tuple, list, dict, frozenset, set, type(None))


@pytest.mark.parametrize("name", sorted(crossmodal.__all__))
def test_public_name_has_a_docstring(name):
    obj = getattr(crossmodal, name)
    if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj):
        doc = obj.__doc__  # its own, not inherited
    else:
        # a constant or an alias: the string literal after its assignment; an object of a
        # documented (non-builtin) type, such as the pluggy markers, may rely on its type's
        doc = _attribute_docstrings(_defining_module(name)).get(name)
        if not doc and not isinstance(obj, _BUILTIN_VALUES) and not hasattr(obj, "__origin__"):
            doc = type(obj).__doc__
    assert doc and doc.strip(), f"crossmodal.{name} has no docstring"


# -------------------------------------------------------------------------------------------
# Links between the pages
# -------------------------------------------------------------------------------------------

OUR_PAGES = ("index.md", "quickstart.md", "concepts.md", "hooks.md", "cli.md", "plugin-guide.md")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", OUR_PAGES)
def test_relative_links_resolve(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if "://" in target:
            continue
        path, _, anchor = target.partition("#")
        resolved = (DOCS / page).parent / path if path else DOCS / page
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", resolved.read_text(encoding="utf-8"), re.M)
            if anchor not in {_anchor(h) for h in headings}:
                broken.append(target)
    assert not broken, f"docs/{page} links to missing files or headings: {', '.join(broken)}"


# -------------------------------------------------------------------------------------------
# Snippets that run as written
# -------------------------------------------------------------------------------------------

SNIPPET_MARK = "<!-- runs in tests/test_docs.py -->"
"""Put on the line before a ```python block of one of OUR_PAGES to have this module run it."""

EXAMPLE_PLUGIN = DOCS / "examples" / "crossmodal-palette"
"""The worked example, importable (as ``crossmodal_palette``) while the snippets run."""


def _marked_snippets() -> list[tuple[str, int, str]]:
    """``(page, line number of the mark, code)`` for every marked block; a mark not followed by
    a ```python block is a failure of its own (``code`` is then ``None``)."""
    snippets = []
    for page in OUR_PAGES:
        lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if line.strip() != SNIPPET_MARK:
                continue
            if number >= len(lines) or lines[number].strip() != "```python":
                snippets.append((page, number, None))
                continue
            end = next(i for i in range(number + 1, len(lines)) if lines[i].strip() == "```")
            snippets.append((page, number, textwrap.dedent("\n".join(lines[number + 1:end]) + "\n")))
    return snippets


SNIPPETS = _marked_snippets()


def test_the_plugin_guide_has_runnable_snippets():
    assert sum(page == "plugin-guide.md" for page, _, _ in SNIPPETS) >= 5


@pytest.mark.parametrize("page, line, code", SNIPPETS, ids=[f"{page}:{line}" for page, line, _ in SNIPPETS])
def test_marked_snippet_runs(page, line, code, monkeypatch):
    """Each snippet runs as a module of its own, so that one defining hooks can load itself as a
    plugin (``load_plugins(extra=[("name", sys.modules[__name__])])``)."""
    assert code is not None, f"docs/{page}:{line}: {SNIPPET_MARK} must be followed by a ```python block"
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    module = types.ModuleType(f"snippet_{Path(page).stem.replace('-', '_')}_{line}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code, f"docs/{page}:{line}", "exec"), module.__dict__)


# -------------------------------------------------------------------------------------------
# Every block of the plugin guide is checked
# -------------------------------------------------------------------------------------------

GUIDE = DOCS / "plugin-guide.md"
REPOSITORY = DOCS.parent


def _blocks(page: Path) -> list[tuple[int, str, str]]:
    """``(line number of the opening fence, language, text)`` of every fenced block of ``page``."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, number = [], 0
    while number < len(lines):
        opening = re.match(r"^\s*```(\S*)\s*$", lines[number])
        if opening:
            end = next(i for i in range(number + 1, len(lines)) if lines[i].strip() == "```")
            blocks.append((number + 1, opening.group(1), textwrap.dedent("\n".join(lines[number + 1:end]))))
            number = end
        number += 1
    return blocks


GUIDE_BLOCKS = _blocks(GUIDE)


def test_every_block_of_the_plugin_guide_is_of_a_checked_kind():
    languages = {language for _, language, _ in GUIDE_BLOCKS}
    assert languages <= {"python", "toml", "bash", "text"}, (
        "docs/plugin-guide.md: a block must be ```python (run), ```toml (parsed), ```bash (checked) or "
        f"```text (output, a file tree): found {sorted(languages)}")
    assert {"python", "toml", "bash"} <= languages


def test_every_python_block_of_the_plugin_guide_is_marked_to_run():
    lines = GUIDE.read_text(encoding="utf-8").splitlines()
    unmarked = [number for number, language, _ in GUIDE_BLOCKS
                if language == "python" and (number < 2 or lines[number - 2].strip() != SNIPPET_MARK)]
    assert not unmarked, (f"docs/plugin-guide.md: the ```python block(s) at line(s) {unmarked} are not run: put "
                          f"{SNIPPET_MARK} on the line before each, and make it run as written")


def _within(part, whole) -> bool:
    """Whether every key of the TOML document ``part`` is in ``whole`` with the same value."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(key in whole and _within(part[key], whole[key]) for key in part)
    return part == whole


GUIDE_TOML = [(number, text) for number, language, text in GUIDE_BLOCKS if language == "toml"]


@pytest.mark.parametrize("line, text", GUIDE_TOML, ids=[f"plugin-guide.md:{number}" for number, _ in GUIDE_TOML])
def test_plugin_guide_toml_parses_and_agrees_with_the_example(line, text):
    document = tomllib.loads(text)
    example = tomllib.loads((EXAMPLE_PLUGIN / "pyproject.toml").read_text(encoding="utf-8"))
    if document.get("project", {}).get("name") == example["project"]["name"]:
        assert _within(document, example), f"docs/plugin-guide.md:{line} differs from the example's pyproject.toml"


def _commands_of(text: str) -> list[str]:
    """The command lines of a ```bash block: comments dropped, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line for line in (re.sub(r"\s+#.*$", "", raw).strip() for raw in joined.splitlines())
            if line and not line.startswith("#")]


GUIDE_COMMANDS = [(number, command) for number, language, text in GUIDE_BLOCKS if language == "bash"
                  for command in _commands_of(text)]

EXAMPLE_TEST = (REPOSITORY / "tests" / "test_example_plugin.py").read_text(encoding="utf-8")

RUN_BY_THE_EXAMPLE_TEST = {
    ("pip", "install"): '"pip", "install"',
    ("python", "-m", "pytest"): '"-m", "pytest"',
}
"""A command's first words -> what tests/test_example_plugin.py runs it as."""


@pytest.fixture(scope="module")
def guide_cli():
    """``crossmodal`` as the guide's reader has it: the core and the palette example."""
    sys.path.insert(0, str(EXAMPLE_PLUGIN))
    try:
        import crossmodal_palette.plugin

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
            cli = make_cli(extra_plugins=[("palette", crossmodal_palette.plugin)])
            commands = dict(_commands(cli, click.Context(cli, info_name="crossmodal"), "crossmodal"))
    finally:
        sys.path.remove(str(EXAMPLE_PLUGIN))
    return {"crossmodal": cli, **commands}


def _parse(commands: dict[str, click.Command], words: list[str]) -> str | None:
    """Parse ``crossmodal WORDS`` as click would, without running it: what is wrong, or None."""
    name, rest = "crossmodal", list(words[1:])
    while rest and rest[0] in _long_options(commands[name]):  # --debug, --strict-plugins
        rest.pop(0)
    while rest and f"{name} {rest[0]}" in commands:
        name = f"{name} {rest.pop(0)}"
    command = commands[name]
    if isinstance(command, click.Group):
        return f"{name} needs a command, given {rest}"
    try:
        values, left, _ = command.make_parser(click.Context(command, info_name=name)).parse_args(rest)
    except click.UsageError as error:
        return f"{name}: {error.format_message()}"
    missing = [p.name for p in command.params if isinstance(p, click.Argument) and p.required
               and p.name not in values]
    if left or missing:
        return f"{name}: unexpected {left}" if left else f"{name}: missing {missing}"
    return None


@pytest.mark.parametrize("line, command", GUIDE_COMMANDS,
                         ids=[f"plugin-guide.md:{number} {command[:40]}" for number, command in GUIDE_COMMANDS])
def test_plugin_guide_command_is_checked(line, command, guide_cli, monkeypatch):
    words = shlex.split(command)
    while words and re.match(r"^[A-Z_]+=", words[0]):  # VAR=value before the command
        variable = words.pop(0).partition("=")[0]
        sources = [EXAMPLE_TEST, *(path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py"))]
        assert any(variable in source for source in sources), (
            f"docs/plugin-guide.md:{line}: {variable} is read neither by crossmodal nor by the example's test")
    if words[0] == "crossmodal":
        problem = _parse(guide_cli, words)
        assert problem is None, f"docs/plugin-guide.md:{line}: `{command}`: {problem}"
    elif words[:2] == ["python", "-c"]:
        monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
        exec(compile(words[2], f"docs/plugin-guide.md:{line}", "exec"), {"__name__": f"command_{line}"})
    else:
        ran_as = next((run for start, run in RUN_BY_THE_EXAMPLE_TEST.items() if tuple(words[: len(start)]) == start),
                      None)
        assert ran_as, f"docs/plugin-guide.md:{line}: no test runs or checks `{command}`"
        assert ran_as in EXAMPLE_TEST, f"tests/test_example_plugin.py no longer runs {ran_as}"
        paths = [REPOSITORY / word for word in words if "/" in word]
        assert paths and all(path.exists() and EXAMPLE_PLUGIN in (path, *path.parents) for path in paths), (
            f"docs/plugin-guide.md:{line}: `{command}` must name (a path in) docs/examples/crossmodal-palette, "
            "which is what tests/test_example_plugin.py installs and tests")
