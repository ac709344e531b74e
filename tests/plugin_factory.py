"""Writes real third-party plugin distributions (module + ``*.dist-info``) into a folder."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_distribution(
    root: Path, dist: str, version: str, entry_points: dict[str, str], modules: dict[str, str]
) -> Path:
    """Create ``root/<module>.py`` files and ``root/<dist>-<version>.dist-info`` metadata.

    :param entry_points: entry-point name -> ``module`` or ``module:object`` in group crossmodal.
    :param modules: module name -> source code (dedented).
    :returns: ``root``, ready for ``sys.path`` and ``load_plugins(path=[root])``.
    """
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[crossmodal]\n{lines}")
    return root


GOOD_PLUGIN = textwrap.dedent('''
    import torch
    from crossmodal import Encoder, hookimpl, API_VERSION

    class SketchEncoder(Encoder):
        """Encodes 4-d sketches to 2-d features."""
        condition_shape = (4,)
        feature_dim = 2

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)

        def forward(self, condition):
            return self.linear(condition)

    @hookimpl
    def crossmodal_api_version():
        return API_VERSION

    @hookimpl
    def crossmodal_register_components(register):
        register("encoder", "sketch", SketchEncoder)
        register("evaluator", "sketch-mean", lambda: None, "Mean of a sketch")
''')

API_1_PLUGIN = textwrap.dedent('''
    from crossmodal import Encoder, hookimpl

    class SketchEncoder(Encoder):
        """Encodes 4-d sketches to 2-d features."""

    @hookimpl
    def crossmodal_api_version():
        return 1

    @hookimpl
    def crossmodal_register_components(register):
        register("encoder", "sketch", SketchEncoder)
        register("temporal", "sketch-bars", SketchEncoder)

    @hookimpl
    def crossmodal_register_datasets(register):
        register("sketches", dict)

    @hookimpl
    def crossmodal_register_recipes(register):
        register("sketch", dict)
''')
"""A plugin as written for plugin API 1 (before every kind went through one hook)."""


_module_numbers = __import__("itertools").count()


def unique_module(prefix: str) -> str:
    """A module name no other test has imported (``sys.modules`` caches modules by name)."""
    return f"{prefix}_{next(_module_numbers)}_{__import__('os').getpid()}"


def encoder_plugin(encoder: str, extra: str = "") -> str:
    """Source of a plugin that registers one encoder named ``encoder``, then runs ``extra`` (dedented)."""
    return textwrap.dedent(f'''
        from crossmodal import Encoder, hookimpl, API_VERSION

        class NamedEncoder(Encoder):
            """An encoder registered under {encoder!r}."""

        @hookimpl
        def crossmodal_api_version():
            return API_VERSION

        @hookimpl
        def crossmodal_register_components(register):
            register("encoder", {encoder!r}, NamedEncoder)
    ''') + textwrap.dedent(extra)
