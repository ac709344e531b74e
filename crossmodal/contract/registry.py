"""The component registry: kind -> name -> factory, with where each entry came from.

A factory is registered either as itself (a class or function) or as its import path,
``"package.module:Attribute"``, which :attr:`ComponentInfo.factory` imports only when the factory
is needed: to build the component or to check options against its signature. Registering and
listing import nothing (an entry registered by path without a description is listed under its
path rather than its docstring), so a plugin that registers import paths, each with a
description, costs ``crossmodal list-components`` and ``crossmodal --help`` no torch import.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from crossmodal.errors import DuplicateComponentError, PluginLoadError, UnknownComponentError
from crossmodal.storage.files import shown
from crossmodal.contract.hookspecs import KIND_INTERFACES

__all__ = ["KINDS", "ComponentInfo", "Factory", "Registry", "is_import_path"]

Factory = Callable[..., Any] | str
"""What ``register`` takes as a factory: the factory itself, or its import path (:func:`is_import_path`)."""

KINDS = tuple(KIND_INTERFACES)
"""Every kind of entry the registry holds, in the order ``list-components`` prints them: ``encoder``,
``temporal-source``, ``decoder``, ``critic``, ``evaluator``, ``descriptor``, ``sample-set``,
``sample-writer``, ``sample-renderer``, ``pairing``, ``loss-term``, ``recipe``, ``pretrained-model``
(each its interface's name, see :data:`crossmodal.contract.hookspecs.KIND_INTERFACES`)."""


def is_import_path(text: str) -> bool:
    """Whether ``text`` reads as an import path ``"package.module:Attribute"`` (entry-point syntax).

    Dotted names on both sides of one colon, each part an identifier: ``"jukepix.models:PaintingEncoder"``,
    ``"my_plugin.data:Sets.palettes"``. Nothing is imported.
    """
    module, colon, attribute = text.partition(":")
    return bool(colon) and all(
        part.isidentifier() for side in (module, attribute) for part in side.split(".")
    )


def import_object(path: str) -> Any:
    """The object an import path ``"package.module:Attribute.sub"`` names, imported now.

    :raises Exception: whatever importing the module or reading an attribute raises (callers
        turn it into their own one-line error).
    """
    module, _, attribute = path.partition(":")
    found: Any = importlib.import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


@dataclass(frozen=True)
class ComponentInfo:
    """One registry entry.

    :param registered: what the plugin passed to ``register``: the factory, or its import path
        (``"package.module:Attribute"``), imported when :attr:`factory` is read.
    :param plugin: the plugin (entry-point) name that registered it.
    :param distribution: the installed distribution providing the plugin (``""`` if none).
    :param version: that distribution's version (``""`` if none).
    """

    kind: str
    name: str
    registered: Factory
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

    @property
    def import_path(self) -> str | None:
        """The import path the factory was registered under, or ``None`` when it was registered itself."""
        return self.registered if isinstance(self.registered, str) else None

    @property
    def factory(self) -> Callable[..., Any]:
        """The factory, imported here when it was registered by import path.

        Python caches the module, so reading it again costs a lookup.

        :raises PluginLoadError: one line naming the plugin, the entry and the path, when the
            path cannot be imported (the import's exception is the cause) or names something
            that is not callable.
        """
        path = self.import_path
        if path is None:
            return self.registered  # type: ignore[return-value]
        release = f"{self.distribution}=={self.version}" if self.distribution else ""
        where = (f"plugin {self.plugin!r}{f' ({shown(release)})' if release else ''} registered {self.kind} "
                 f"{self.name!r} as {path!r}, which")
        fix = "Fix or reinstall the plugin, or leave it out with CROSSMODAL_LOAD_PLUGINS"
        culprit = {"plugin": self.plugin, "distribution": release}
        try:
            factory = import_object(path)
        except Exception as err:  # noqa: BLE001 - any import failure: re-raised as one line, with the cause
            text = re.sub(r"\s*\n\s*", "; ", str(err).strip())  # a multi-line message on one line
            raise PluginLoadError(
                f"{where} cannot be imported: {shown(f'{type(err).__name__}: {text}')}. {fix}",
                **culprit,
            ) from err
        if not callable(factory):
            raise PluginLoadError(
                f"{where} is a {type(factory).__name__}, not a class or function that builds the {self.kind}. {fix}",
                **culprit,
            )
        return factory


def _natural_key(text: str) -> list[Any]:
    """Sort key that orders ``bar2`` before ``bar10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text.lower())]


def _summary(factory: Factory) -> str:
    """The first paragraph of the factory's docstring, on one line; an import path is shown as it is.

    Nothing is imported: a factory registered by import path without a description is listed
    under its path.
    """
    if isinstance(factory, str):
        return factory
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
        factory: Factory,
        description: str = "",
        *,
        plugin: str,
        distribution: str = "",
        version: str = "",
    ) -> ComponentInfo:
        """Register ``factory`` (a callable, or its import path, not imported here) as ``(kind, name)``.

        :returns: the new entry.
        """
        if kind not in self._entries:
            raise ValueError(
                f"plugin {plugin!r} registered {name!r} under unknown kind {kind!r}; "
                f"kinds are: {', '.join(KINDS)}"
            )
        if not isinstance(name, str) or not name:
            raise ValueError(f"plugin {plugin!r} registered a {kind} with an empty or non-string name")
        if isinstance(factory, str):
            if not is_import_path(factory):
                raise ValueError(
                    f"plugin {plugin!r} registered {kind} {name!r} as {factory!r}, which is not an import "
                    "path such as 'package.module:Attribute'"
                )
        elif not callable(factory):
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
