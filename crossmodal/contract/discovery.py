"""Finding installed plugins: the one place that reads entry-point metadata."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import entrypoints

from crossmodal.contract.hookspecs import PROJECT_NAME

__all__ = ["ENTRY_POINT_GROUP", "PluginEntryPoint", "find_entry_points"]

ENTRY_POINT_GROUP = PROJECT_NAME
"""The entry-point group plugins are published under: ``[project.entry-points.crossmodal]``."""


@dataclass(frozen=True)
class PluginEntryPoint:
    """An entry point in :data:`ENTRY_POINT_GROUP`, not yet imported.

    :param target: ``module`` or ``module:object`` as written in the distribution's metadata.
    """

    name: str
    target: str
    distribution: str
    version: str
    _entry_point: entrypoints.EntryPoint

    def load(self) -> object:
        """Import the plugin object (module or instance); exceptions propagate to the caller."""
        return self._entry_point.load()


def find_entry_points(path: Sequence[str] | None = None) -> list[PluginEntryPoint]:
    """Every entry point of the ``crossmodal`` group, in ``sys.path`` order (or ``path``'s).

    Uses ``entrypoints.get_group_all``, which keeps two entry points of the same name so that a
    clash is reported instead of silently resolved.
    """
    found = []
    for ep in entrypoints.get_group_all(ENTRY_POINT_GROUP, path=list(path) if path is not None else None):
        target = ep.module_name + (f":{ep.object_name}" if ep.object_name else "")
        distro = ep.distro
        found.append(
            PluginEntryPoint(
                name=ep.name,
                target=target,
                distribution=(distro.name if distro else "") or "",
                version=(distro.version if distro else "") or "",
                _entry_point=ep,
            )
        )
    return found
