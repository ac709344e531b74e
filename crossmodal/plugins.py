"""Loading plugins into a :class:`Plugins` set: pluggy manager, registry and load report.

Each entry point is imported, validated and registered on its own, so one broken plugin is
reported (name, distribution, exception, how to skip it) instead of taking the CLI down. Strict
mode (``strict=True`` or ``CROSSMODAL_STRICT_PLUGINS=1``) turns any failure into an error.
``CROSSMODAL_LOAD_PLUGINS`` limits auto-loading: unset loads all, an empty string loads none,
``"a,b"`` loads only the plugins whose entry-point names are listed.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import pluggy

from . import hookspecs
from .discovery import PluginEntryPoint, find_entry_points
from .errors import CrossmodalError, PluginLoadError
from .registry import KINDS, Registry

__all__ = [
    "API_VERSION",
    "LOAD_PLUGINS_ENV",
    "STRICT_ENV",
    "BrokenPlugin",
    "LoadedPlugin",
    "Plugins",
    "load_plugins",
]

API_VERSION = 1
"""Version of the plugin API in :mod:`crossmodal.hookspecs`; plugins declare the one they need."""

LOAD_PLUGINS_ENV = "CROSSMODAL_LOAD_PLUGINS"
STRICT_ENV = "CROSSMODAL_STRICT_PLUGINS"

_NETWORK_KINDS = ("encoder", "temporal", "decoder", "critic")
_REGISTRATION_HOOKS = {
    # hook name -> kind it fills (None: the kind is the first argument of register)
    "crossmodal_register_components": None,
    "crossmodal_register_evaluators": "evaluator",
    "crossmodal_register_datasets": "dataset",
    "crossmodal_register_writers": "writer",
    "crossmodal_register_recipes": "recipe",
}


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin that imported, validated and registered without error."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    api_version: int | None


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that failed; ``error`` is the exception (its cause chain kept for ``--debug``)."""

    name: str
    distribution: str
    version: str
    error: BaseException

    @property
    def message(self) -> str:
        """One line: what failed, and how to skip it."""
        dist = f" ({self.distribution}=={self.version})" if self.distribution else ""
        return (
            f"plugin {self.name!r}{dist} failed to load: {type(self.error).__name__}: {self.error}. "
            f"Skip it with {LOAD_PLUGINS_ENV}=<the plugins you want>, or run with --debug for the traceback."
        )


@dataclass
class Plugins:
    """The outcome of :func:`load_plugins`: a pluggy manager, a filled registry and a report."""

    manager: pluggy.PluginManager
    registry: Registry
    loaded: list[LoadedPlugin] = field(default_factory=list)
    broken: list[BrokenPlugin] = field(default_factory=list)

    def broken_plugin(self, name: str) -> BrokenPlugin | None:
        """The failure record of plugin ``name``, if it failed."""
        return next((b for b in self.broken if b.name == name), None)

    def plugin_names(self) -> list[str]:
        return [p.name for p in self.loaded]


def _env_allow_list() -> set[str] | None:
    value = os.environ.get(LOAD_PLUGINS_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _env_strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _validate_plugin_object(name: str, obj: object) -> None:
    if inspect.isclass(obj):
        raise PluginLoadError(
            f"entry point names the class {obj.__qualname__}; point it at a module or an instance "
            "(hook implementations must be callable without an instance)",
            plugin=name,
        )
    hooks = [a for a in dir(obj) if a.startswith("crossmodal_")]
    if not hooks:
        raise PluginLoadError(
            "it implements no crossmodal_* hook; see crossmodal.hookspecs for the hooks", plugin=name
        )
    unknown = [h for h in hooks if not hasattr(hookspecs, h)]
    if unknown:
        raise PluginLoadError(
            f"unknown hook(s) {', '.join(unknown)}; known hooks are listed in crossmodal.hookspecs",
            plugin=name,
        )


def _api_version(name: str, obj: object) -> int | None:
    impl = getattr(obj, "crossmodal_api_version", None)
    if impl is None:
        return None
    version = impl()
    if not isinstance(version, int) or isinstance(version, bool):
        raise PluginLoadError(f"crossmodal_api_version() returned {version!r}, not an int", plugin=name)
    if version != API_VERSION:
        raise PluginLoadError(
            f"written for crossmodal plugin API {version}, but this crossmodal provides API "
            f"{API_VERSION}; upgrade the plugin or crossmodal",
            plugin=name,
        )
    return version


class _Staging:
    """Collects one plugin's registrations so that a failing plugin leaves nothing behind."""

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.entries: list[tuple[str, str, Any, str]] = []

    def _add(self, hook: str, kind: str, name: Any, factory: Any, description: Any) -> None:
        """Check one ``register(...)`` call where it is made, so the message names the hook."""
        if not isinstance(name, str) or not name:
            raise PluginLoadError(
                f"{hook} called register() with the name {name!r}; a name is a non-empty string "
                f"(the {kind}'s registry name, e.g. \"my-{kind}\")",
                plugin=self.plugin,
            )
        if not callable(factory):
            raise PluginLoadError(
                f"{hook} registered {kind} {name!r} with a {type(factory).__name__} as its factory; "
                "pass a class or function that builds the object (it is called when a recipe is built)",
                plugin=self.plugin,
            )
        if not isinstance(description, str):
            raise PluginLoadError(
                f"{hook} registered {kind} {name!r} with a {type(description).__name__} as its "
                "description; pass a one-line string (or leave it out to use the factory's docstring)",
                plugin=self.plugin,
            )
        self.entries.append((kind, name, factory, description))

    def _arguments(self, hook: str, required: tuple[str, ...], args: tuple, kwargs: dict) -> tuple:
        """Bind one ``register(...)`` call to ``(*required, description="")``, or say how to call it."""
        parameters = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in required]
        parameters.append(inspect.Parameter("description", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=""))
        try:
            bound = inspect.Signature(parameters).bind(*args, **kwargs)
        except TypeError as err:
            raise PluginLoadError(
                f"{hook} called register() wrongly ({err}); call it as "
                f"register({', '.join(required)}, description=\"\")",
                plugin=self.plugin,
            ) from None
        bound.apply_defaults()
        return tuple(bound.arguments.values())

    def component(self, *args: Any, **kwargs: Any) -> None:
        """``register(kind, name, factory, description="")`` of ``crossmodal_register_components``."""
        hook = "crossmodal_register_components"
        kind, name, factory, description = self._arguments(hook, ("kind", "name", "factory"), args, kwargs)
        if kind not in _NETWORK_KINDS:
            raise PluginLoadError(
                f"{hook} registered {name!r} as {kind!r}; "
                f"this hook takes the kinds {', '.join(_NETWORK_KINDS)} "
                "(evaluators, datasets, writers and recipes have hooks of their own)",
                plugin=self.plugin,
            )
        self._add(hook, kind, name, factory, description)

    def of_kind(self, kind: str, hook: str):
        """The ``register(name, factory, description="")`` callback of ``hook``, which fills ``kind``."""

        def register(*args: Any, **kwargs: Any) -> None:
            name, factory, description = self._arguments(hook, ("name", "factory"), args, kwargs)
            self._add(hook, kind, name, factory, description)

        return register


def _register_plugin(
    manager: pluggy.PluginManager, registry: Registry, name: str, dist: str, version: str
) -> tuple[str, ...]:
    """Run ``name``'s registration hooks and commit what they registered; returns hook names."""
    staging = _Staging(name)
    hooks_run = []
    for hook_name, kind in _REGISTRATION_HOOKS.items():
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            if impl.plugin_name != name:
                continue
            if "register" not in impl.argnames:
                raise PluginLoadError(
                    f"{hook_name}() takes no 'register' argument, so it cannot register anything; "
                    f"declare it as {hook_name}(register)",
                    plugin=name,
                )
            register = staging.component if kind is None else staging.of_kind(kind, hook_name)
            returned = impl.function(*[{"register": register}[arg] for arg in impl.argnames])
            if returned is not None:
                raise PluginLoadError(
                    f"{hook_name}() returned a {type(returned).__name__}; registration hooks return "
                    "None and call register(...) once per entry instead",
                    plugin=name,
                )
            hooks_run.append(hook_name)
    added = []
    try:
        for kind, comp_name, factory, description in staging.entries:
            added.append(
                registry.add(kind, comp_name, factory, description, plugin=name, distribution=dist, version=version)
            )
    except (CrossmodalError, ValueError):
        for info in added:
            registry.remove(info.kind, info.name)
        raise
    return tuple(hooks_run)


def load_plugins(
    *,
    strict: bool | None = None,
    allow: Iterable[str] | None = None,
    path: Sequence[str] | None = None,
    extra: Sequence[tuple[str, object]] = (),
) -> Plugins:
    """Discover, import, validate and register plugins; never raises for one plugin unless strict.

    :param strict: raise :class:`PluginLoadError` on the first failure (default: the
        ``CROSSMODAL_STRICT_PLUGINS`` environment variable).
    :param allow: entry-point names to load (default: ``CROSSMODAL_LOAD_PLUGINS``; ``None`` = all).
    :param path: directories to search for distributions instead of ``sys.path``.
    :param extra: ``(name, plugin_object)`` pairs registered after the entry points (in-process
        plugins, e.g. in tests); always loaded.
    :returns: a :class:`Plugins` set; failures are in ``.broken``.
    """
    strict = _env_strict() if strict is None else strict
    allowed = _env_allow_list() if allow is None else set(allow)
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    plugins = Plugins(manager=manager, registry=Registry())

    candidates: list[tuple[str, str, str, PluginEntryPoint | None, object]] = []
    for ep in find_entry_points(path):
        if allowed is not None and ep.name not in allowed:
            continue
        candidates.append((ep.name, ep.distribution, ep.version, ep, None))
    candidates.extend((name, "", "", None, obj) for name, obj in extra)

    for name, dist, version, ep, obj in candidates:
        registered = False
        try:
            if manager.has_plugin(name):
                other = manager.get_plugin(name)
                raise PluginLoadError(
                    f"another plugin already uses the name {name!r} ({getattr(other, '__name__', other)!r}); "
                    "two installed distributions declare the same entry-point name",
                    plugin=name,
                )
            if ep is not None:
                obj = ep.load()
            _validate_plugin_object(name, obj)
            manager.register(obj, name=name)
            registered = True
            api = _api_version(name, obj)
            hooks = _register_plugin(manager, plugins.registry, name, dist, version)
            plugins.loaded.append(LoadedPlugin(name, dist, version, hooks, api))
        except Exception as err:  # noqa: BLE001 - any plugin failure is recorded, never swallowed
            if registered:
                manager.unregister(name=name)
            broken = BrokenPlugin(name, dist, version, err)
            if strict:
                raise PluginLoadError(broken.message, plugin=name, distribution=dist) from err
            plugins.broken.append(broken)
    return plugins
