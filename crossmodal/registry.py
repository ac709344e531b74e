"""The component registry: kind -> name -> factory, with where each entry came from."""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .errors import DuplicateComponentError, UnknownComponentError
from .hookspecs import KIND_INTERFACES

__all__ = ["KINDS", "ComponentInfo", "Registry"]

KINDS = tuple(KIND_INTERFACES)
"""Every kind of entry the registry holds, in the order ``list-components`` prints them: ``encoder``,
``temporal-source``, ``decoder``, ``critic``, ``evaluator``, ``sample-set``, ``sample-writer``,
``recipe`` (each its interface's name, see :data:`crossmodal.hookspecs.KIND_INTERFACES`)."""


@dataclass(frozen=True)
class ComponentInfo:
    """One registry entry.

    :param plugin: the plugin (entry-point) name that registered it.
    :param distribution: the installed distribution providing the plugin (``""`` if none).
    :param version: that distribution's version (``""`` if none).
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    description: str
    plugin: str
    distribution: str = ""
    version: str = ""

    @property
    def provider(self) -> str:
        """``plugin (distribution==version)``, or just the plugin when it has no distribution."""
        if self.distribution:
            return f"{self.plugin} ({self.distribution}=={self.version})"
        return self.plugin


def _natural_key(text: str) -> list[Any]:
    """Sort key that orders ``bar2`` before ``bar10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text.lower())]


def _summary(factory: Callable[..., Any]) -> str:
    """The first paragraph of the factory's docstring, on one line."""
    doc = (getattr(factory, "__doc__", None) or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


class Registry:
    """Maps (kind, name) to a :class:`ComponentInfo`.

    Filled through the ``crossmodal_register_components`` hook; a duplicate (kind, name) raises
    :class:`DuplicateComponentError` naming both providers, an unknown one raises
    :class:`UnknownComponentError` with the closest registered names.

    A duplicate also marks the name *contested*: the first entry stays listed, but :meth:`get`
    (and so :meth:`create`) refuses it, naming every provider, so that which plugin's component
    is used never depends on the order plugins load in. Disabling all but one provider (see
    ``CROSSMODAL_LOAD_PLUGINS``) settles it.
    """

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, ComponentInfo]] = {kind: {} for kind in KINDS}
        self._contested: dict[tuple[str, str], list[str]] = {}

    def add(
        self,
        kind: str,
        name: str,
        factory: Callable[..., Any],
        description: str = "",
        *,
        plugin: str,
        distribution: str = "",
        version: str = "",
    ) -> ComponentInfo:
        """Register ``factory`` as ``(kind, name)``; returns the new entry."""
        if kind not in self._entries:
            raise ValueError(
                f"plugin {plugin!r} registered {name!r} under unknown kind {kind!r}; "
                f"kinds are: {', '.join(KINDS)}"
            )
        if not isinstance(name, str) or not name:
            raise ValueError(f"plugin {plugin!r} registered a {kind} with an empty or non-string name")
        if not callable(factory):
            raise ValueError(f"plugin {plugin!r} registered {kind} {name!r} with a factory that is not callable")
        existing = self._entries[kind].get(name)
        info = ComponentInfo(
            kind, name, factory, description or _summary(factory), plugin, distribution, version
        )
        if existing is not None:
            if existing.plugin != plugin:  # a plugin repeating itself is its own bug, not a contest
                providers = self._contested.setdefault((kind, name), [existing.provider])
                if info.provider not in providers:
                    providers.append(info.provider)
            raise DuplicateComponentError(
                f"{kind} {name!r} is registered twice: by {existing.provider} and by {info.provider}; "
                "uninstall or disable one of them (see CROSSMODAL_LOAD_PLUGINS)"
            )
        self._entries[kind][name] = info
        return info

    def remove(self, kind: str, name: str) -> None:
        """Forget ``(kind, name)`` (used to roll back a plugin whose registration failed)."""
        del self._entries[kind][name]

    def contested(self) -> dict[tuple[str, str], list[str]]:
        """``(kind, name)`` -> the providers (``plugin (distribution==version)``) that registered it."""
        return {key: list(providers) for key, providers in self._contested.items()}

    def get(self, kind: str, name: str) -> ComponentInfo:
        """The entry for ``(kind, name)``, or :class:`UnknownComponentError` with suggestions.

        A contested name raises :class:`DuplicateComponentError` naming its providers.
        """
        providers = self._contested.get((kind, name))
        if providers is not None:
            raise DuplicateComponentError(
                f"{kind} {name!r} is registered by {len(providers)} plugins: {' and '.join(providers)}; "
                "crossmodal uses none of them until you choose: set CROSSMODAL_LOAD_PLUGINS to the "
                "plugins you want, leaving out all but one of these (see `crossmodal list-components`)"
            )
        try:
            return self._entries[kind][name]
        except KeyError:
            pass
        if kind not in self._entries:
            raise UnknownComponentError(f"unknown kind {kind!r}; kinds are: {', '.join(KINDS)}")
        known = self.names(kind)
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(known) if known else "none"
        raise UnknownComponentError(
            f"no {kind} named {name!r}.{hint} Known {kind}s: {listing}. "
            f"See `crossmodal list-components --kind {kind}`."
        )

    def create(self, kind: str, name: str, /, **options: Any) -> Any:
        """Call the factory of ``(kind, name)`` with ``options``."""
        return self.get(kind, name).factory(**options)

    def names(self, kind: str, pattern: str = "*") -> list[str]:
        """Registered names of ``kind`` matching the fnmatch ``pattern``, in natural order."""
        return sorted(fnmatch.filter(self._entries[kind], pattern), key=_natural_key)

    def entries(self, kind: str | None = None) -> list[ComponentInfo]:
        """All entries (of one kind, or all kinds in :data:`KINDS` order), names in natural order."""
        kinds = KINDS if kind is None else (kind,)
        return [self._entries[k][n] for k in kinds for n in self.names(k)]

    def __iter__(self) -> Iterator[ComponentInfo]:
        return iter(self.entries())

    def __len__(self) -> int:
        return sum(len(by_name) for by_name in self._entries.values())
