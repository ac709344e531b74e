"""Loading plugins into a :class:`Plugins` set: pluggy manager, registry and load report.

Each entry point is imported, registered with pluggy (which checks every hook's arguments against
:mod:`crossmodal.contract.hookspecs`; ``check_pending()`` refuses unknown hooks) and has its hooks called on
its own, so one broken plugin is
reported (name, distribution, exception, how to skip it) instead of taking the CLI down: an
exception, ``sys.exit()`` (:class:`SystemExit`) or any other :class:`BaseException` except
:class:`KeyboardInterrupt` raised while a plugin is imported or while its hooks run marks that
plugin broken. Strict mode (``strict=True`` or ``CROSSMODAL_STRICT_PLUGINS=1``) turns any failure
into an error.

``CROSSMODAL_LOAD_PLUGINS`` limits auto-loading: unset loads all, an empty string loads none,
``"a,b"`` loads only the listed plugins. An item is an entry-point name (``sketch``) or
``distribution:entry-point`` (``crossmodal-sketch:sketch``), which picks one distribution when
two declare the same entry-point name.

Conflicts are never resolved silently (docs/plugin-guide.md, "Conflicts between plugins"):

* Two distributions declaring the same entry-point name, or entry points of two distributions
  naming the same plugin module, are *both* reported broken and neither is loaded, until the
  allow-list picks one with ``distribution:entry-point``.
* Entry points load in a fixed order, by distribution name then entry-point name, whatever the
  order of ``sys.path``. A (kind, name) registered by two plugins keeps the first registration,
  refuses the later plugin with both owners named, and is marked *contested*: asking the
  registry for it is an error until the user disables one of the two.

Each plugin's load (import, checks and registration hook; command registration is added by the
CLI) is timed: :attr:`LoadedPlugin.load_seconds`, and :meth:`Plugins.slow` lists the plugins
slower than ``CROSSMODAL_SLOW_PLUGIN_SECONDS`` (default 2 s). Loading imports no torch itself: the
first plugin whose import pulls in torch is charged for it. A plugin that registers its factories
by import path (``register("decoder", "x", "pkg.models:XDecoder", "...")``, see
:mod:`crossmodal.contract.registry`) imports them only when they are used.

Every registry built here also holds the core's own entries (:data:`CORE_ENTRIES`, plugin
``crossmodal``: the pairings ``random-pairs`` and ``descriptor-pairs``), registered first, by
import path, so ``crossmodal list-components`` lists them and a plugin registering one of their
names is refused as for any other duplicate.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import pluggy

from crossmodal.contract import hookspecs
from crossmodal.contract.discovery import PluginEntryPoint, find_entry_points
from crossmodal.errors import CrossmodalError, PluginLoadError
from crossmodal.storage.files import shown
from crossmodal.contract.registry import KINDS, Registry, is_import_path
from crossmodal.version import __version__

__all__ = [
    "API_VERSION",
    "CORE_ENTRIES",
    "CORE_PLUGIN",
    "DEFAULT_SLOW_PLUGIN_SECONDS",
    "LOAD_PLUGINS_ENV",
    "SLOW_PLUGIN_ENV",
    "STRICT_ENV",
    "BrokenPlugin",
    "LoadedPlugin",
    "Plugins",
    "call_plugin_hook",
    "core_registry",
    "load_plugins",
    "slow_plugin_seconds",
]

API_VERSION = 2
"""Version of the plugin API in :mod:`crossmodal.contract.hookspecs`; plugins declare the one they need.

2: every kind is registered through ``crossmodal_register_components``, kinds are named after
their interfaces. A plugin written for 1 is refused as any other version or unknown hook is; its
first ``from crossmodal import RegisterComponent`` says how to port it (:data:`crossmodal._REMOVED`)."""

LOAD_PLUGINS_ENV = "CROSSMODAL_LOAD_PLUGINS"
STRICT_ENV = "CROSSMODAL_STRICT_PLUGINS"
SLOW_PLUGIN_ENV = "CROSSMODAL_SLOW_PLUGIN_SECONDS"
"""Environment variable: load time in seconds above which commands warn about a plugin."""

DEFAULT_SLOW_PLUGIN_SECONDS = 2.0
"""Default of :data:`SLOW_PLUGIN_ENV`, in seconds."""

CORE_PLUGIN = "crossmodal"
"""The plugin name the core's own entries are registered under."""

CORE_ENTRIES: tuple[tuple[str, str, str, str], ...] = (
    ("pairing", "random-pairs", "crossmodal.data.pairing:random_pairing",
     "Conditions and targets drawn independently and uniformly (unpaired data; the default pairing)."),
    ("pairing", "descriptor-pairs", "crossmodal.data.pairing:descriptor_pairing",
     "Unpaired data matched by descriptors: options couplings [(condition, sample descriptor, sign)], temperature."),
)
"""``(kind, name, import path, description)`` of every entry the core registers itself."""


def core_registry(registry: Registry | None = None) -> Registry:
    """``registry`` (default: a new, empty one) with the core's own entries (:data:`CORE_ENTRIES`) added.

    :returns: the registry.
    """
    registry = Registry() if registry is None else registry
    for kind, name, path, description in CORE_ENTRIES:
        registry.add(kind, name, path, description, plugin=CORE_PLUGIN, distribution="crossmodal", version=__version__)
    return registry


_SKIP_HINT = f"Skip it with {LOAD_PLUGINS_ENV}=<the plugins you want>, or run with --debug for the traceback."


def _owner(name: str, distribution: str, version: str) -> str:
    """``'name' (distribution==version)`` as it appears in messages."""
    dist = f" ({shown(distribution)}=={shown(version)})" if distribution else ""
    return f"{name!r}{dist}"


def _describe(error: BaseException) -> str:
    """``Type: message`` on one line, control characters escaped (a plugin's text cannot forge lines)."""
    if isinstance(error, SystemExit):
        text = f"the plugin called sys.exit({error.code!r})"
    else:
        text = re.sub(r"\s*\n\s*", "; ", str(error).strip())
    return shown(f"{type(error).__name__}: {text}")


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin that imported, validated and registered without error.

    :param hooks: the ``crossmodal_*`` hooks it implements, sorted.
    :param api_version: what its ``crossmodal_api_version`` returned (``None``: not implemented).
    :param load_seconds: wall time of its import, checks and hooks (commands included once the
        CLI has registered them), in seconds.
    """

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    api_version: int | None
    load_seconds: float = 0.0

    @property
    def owner(self) -> str:
        """``'name' (distribution==version)``, as messages show it."""
        return _owner(self.name, self.distribution, self.version)


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that failed; ``error`` is the exception (its cause chain kept for ``--debug``)."""

    name: str
    distribution: str
    version: str
    error: BaseException
    load_seconds: float = 0.0

    @property
    def owner(self) -> str:
        """``'name' (distribution==version)``, as messages show it."""
        return _owner(self.name, self.distribution, self.version)

    @property
    def error_text(self) -> str:
        """``Type: message`` of the error, on one line."""
        return _describe(self.error)

    @property
    def message(self) -> str:
        """One line: what failed, and how to skip it."""
        return f"plugin {self.owner} failed to load: {self.error_text}. {_SKIP_HINT}"


@dataclass
class Plugins:
    """The outcome of :func:`load_plugins`: a pluggy manager, a filled registry and a report.

    :param strict: whether a failure is an error (the CLI uses it for command registration).
    """

    manager: pluggy.PluginManager
    registry: Registry
    loaded: list[LoadedPlugin] = field(default_factory=list)
    broken: list[BrokenPlugin] = field(default_factory=list)
    strict: bool = False

    def broken_plugin(self, name: str) -> BrokenPlugin | None:
        """The failure record of plugin ``name``, if it failed."""
        return next((b for b in self.broken if b.name == name), None)

    def loaded_plugin(self, name: str) -> LoadedPlugin | None:
        """The record of loaded plugin ``name``, if it loaded."""
        return next((p for p in self.loaded if p.name == name), None)

    def plugin_names(self) -> list[str]:
        return [p.name for p in self.loaded]

    def add_load_time(self, name: str, seconds: float) -> None:
        """Add ``seconds`` (e.g. its command registration) to loaded plugin ``name``'s load time."""
        self.loaded = [
            dataclasses.replace(p, load_seconds=p.load_seconds + seconds) if p.name == name else p
            for p in self.loaded
        ]

    def mark_broken(self, name: str, error: BaseException, seconds: float = 0.0) -> BrokenPlugin:
        """Turn loaded plugin ``name`` into a broken one: its registrations and hooks are dropped.

        Raises :class:`PluginLoadError` (caused by ``error``) instead when :attr:`strict` is set.
        """
        plugin = self.loaded_plugin(name)
        if plugin is None:
            raise KeyError(name)
        broken = BrokenPlugin(name, plugin.distribution, plugin.version, error, plugin.load_seconds + seconds)
        if self.strict:
            raise PluginLoadError(broken.message, plugin=name, distribution=plugin.distribution) from error
        self.loaded.remove(plugin)
        for info in self.registry.entries():
            if info.plugin == name:
                self.registry.remove(info.kind, info.name)
        if self.manager.get_plugin(name) is not None:
            self.manager.unregister(name=name)
        self.broken.append(broken)
        return broken

    def slow(self, threshold: float | None = None) -> list[LoadedPlugin | BrokenPlugin]:
        """Plugins whose load took longer than ``threshold`` seconds (default: :func:`slow_plugin_seconds`)."""
        threshold = slow_plugin_seconds() if threshold is None else threshold
        return [p for p in (*self.loaded, *self.broken) if p.load_seconds > threshold]


def slow_plugin_seconds() -> float:
    """The slow-plugin threshold: ``CROSSMODAL_SLOW_PLUGIN_SECONDS``, or 2 s when unset or invalid.

    ``inf`` turns the warning off.
    """
    value = os.environ.get(SLOW_PLUGIN_ENV, "").strip()
    try:
        seconds = float(value) if value else DEFAULT_SLOW_PLUGIN_SECONDS
    except ValueError:
        return DEFAULT_SLOW_PLUGIN_SECONDS
    return seconds if seconds == seconds else DEFAULT_SLOW_PLUGIN_SECONDS  # NaN: the default


def call_plugin_hook(manager: pluggy.PluginManager, hook: str, plugin_name: str, **kwargs: Any) -> Any:
    """Call plugin ``plugin_name``'s implementation of ``hook`` alone, through pluggy.

    Uses :meth:`pluggy.PluginManager.subset_hook_caller` with every other plugin removed, so
    pluggy passes each implementation only the arguments it declares, as in a normal hook call.

    :returns: what pluggy returns: the result for a ``firstresult`` hook, else the list of
        non-None results (empty when the plugin returned None or does not implement ``hook``).
    """
    others = [plugin for name, plugin in manager.list_name_plugin() if name != plugin_name]
    return manager.subset_hook_caller(hook, others)(**kwargs)


def _normalize(distribution: str) -> str:
    """A distribution name compared the way pip does (PEP 503): ``Crossmodal_Sketch`` == ``crossmodal-sketch``."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


class _AllowList:
    """``CROSSMODAL_LOAD_PLUGINS`` items: ``name`` or ``distribution:name``."""

    def __init__(self, items: Iterable[str]) -> None:
        self.items: set[tuple[str | None, str]] = set()
        for item in items:
            item = item.strip()
            if not item:
                continue
            dist, sep, name = item.rpartition(":")
            self.items.add((_normalize(dist.strip()) if sep else None, name.strip()))

    def admits(self, ep: PluginEntryPoint) -> bool:
        return any(name == ep.name and dist in (None, _normalize(ep.distribution)) for dist, name in self.items)


def _env_allow_list() -> list[str] | None:
    value = os.environ.get(LOAD_PLUGINS_ENV)
    return None if value is None else value.split(",")


def _env_strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _check_plugin_object(name: str, obj: object) -> None:
    """Refuse an entry point that names a class: pluggy would call its hooks without an instance."""
    if inspect.isclass(obj):
        raise PluginLoadError(
            f"entry point names the class {obj.__qualname__}; point it at a module or an instance "
            "(hook implementations must be callable without an instance)",
            plugin=name,
        )


def _hooks(manager: pluggy.PluginManager, name: str) -> tuple[str, ...]:
    """The hooks plugin ``name`` implements (pluggy has checked their arguments); refuse none at all."""
    hooks = tuple(sorted(caller.name for caller in manager.get_hookcallers(manager.get_plugin(name)) or ()))
    if not hooks:
        raise PluginLoadError(
            "it implements no crossmodal_* hook; see crossmodal.contract.hookspecs for the hooks", plugin=name
        )
    return hooks


def _api_version(manager: pluggy.PluginManager, name: str) -> int | None:
    """The API version plugin ``name`` declares (``None``: it declares none)."""
    version = call_plugin_hook(manager, "crossmodal_api_version", name)
    if version is None:
        return None
    if not isinstance(version, int) or isinstance(version, bool):
        raise PluginLoadError(f"crossmodal_api_version() returned {version!r}, not an int", plugin=name)
    if version != API_VERSION:
        raise PluginLoadError(
            f"written for crossmodal plugin API {version}, but this crossmodal provides API "
            f"{API_VERSION}; upgrade the plugin or crossmodal",
            plugin=name,
        )
    return version


def _check_pending(manager: pluggy.PluginManager, name: str) -> None:
    """pluggy's ``check_pending()``: refuse a ``crossmodal_*`` function that matches no hook spec."""
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as err:
        raise PluginLoadError(f"{err}; the hooks are listed in crossmodal.contract.hookspecs", plugin=name) from err


class _Staging:
    """Collects one plugin's registrations so that a failing plugin leaves nothing behind.

    :meth:`register` is the :class:`~crossmodal.contract.hookspecs.Register` callback the plugin receives;
    Python itself refuses a call with missing or extra arguments (``TypeError``, which breaks the
    plugin like any other exception from its hook).
    """

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.entries: list[tuple[str, str, Any, str]] = []

    def register(self, kind: str, name: str, factory: Any, description: str = "") -> None:
        """Check one ``register(kind, name, factory, description)`` call where it is made, and keep it.

        A factory given as an import path is checked for its form only; it is imported when used.
        """
        hook = "crossmodal_register_components"
        if kind not in KINDS:
            raise PluginLoadError(
                f"{hook} registered {name!r} under the unknown kind {kind!r}; the kinds are {', '.join(KINDS)}",
                plugin=self.plugin,
            )
        if not isinstance(name, str) or not name:
            raise PluginLoadError(
                f"{hook} called register() with the name {name!r}; a name is a non-empty string "
                f"(the {kind}'s registry name, e.g. \"my-{kind}\")",
                plugin=self.plugin,
            )
        if isinstance(factory, str):
            if not is_import_path(factory):
                raise PluginLoadError(
                    f"{hook} registered {kind} {name!r} as {factory!r}, which is not an import path; "
                    "write 'package.module:Attribute' (imported when the entry is used), or pass the factory itself",
                    plugin=self.plugin,
                )
        elif not callable(factory):
            raise PluginLoadError(
                f"{hook} registered {kind} {name!r} with a {type(factory).__name__} as its factory; "
                "pass a class or function that builds the object (it is called when a recipe is built), "
                "or its import path 'package.module:Attribute'",
                plugin=self.plugin,
            )
        if not isinstance(description, str):
            raise PluginLoadError(
                f"{hook} registered {kind} {name!r} with a {type(description).__name__} as its "
                "description; pass a one-line string (or leave it out to use the factory's docstring)",
                plugin=self.plugin,
            )
        self.entries.append((kind, name, factory, description))


def _register_plugin(manager: pluggy.PluginManager, registry: Registry, name: str, dist: str, version: str) -> None:
    """Run ``name``'s ``crossmodal_register_components`` alone, through pluggy, and commit what it registered."""
    hook = "crossmodal_register_components"
    impls = [i for i in manager.hook.crossmodal_register_components.get_hookimpls() if i.plugin_name == name]
    if impls and "register" not in impls[0].argnames:
        raise PluginLoadError(
            f"{hook}() takes no 'register' argument, so it cannot register anything; declare it as {hook}(register)",
            plugin=name,
        )
    staging = _Staging(name)
    for returned in call_plugin_hook(manager, hook, name, register=staging.register):
        raise PluginLoadError(
            f"{hook}() returned a {type(returned).__name__}; it returns None and calls "
            "register(...) once per entry instead",
            plugin=name,
        )
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


def _conflicts(candidates: Sequence[PluginEntryPoint]) -> dict[int, list[PluginEntryPoint]]:
    """Index in ``candidates`` -> the entry points of *other* distributions with its name or target."""
    found: dict[int, list[PluginEntryPoint]] = {}
    for i, ep in enumerate(candidates):
        others = [
            other for other in candidates
            if _normalize(other.distribution) != _normalize(ep.distribution)
            and (other.name == ep.name or other.target == ep.target)
        ]
        if others:
            found[i] = others
    return found


def _conflict_error(ep: PluginEntryPoint, others: Sequence[PluginEntryPoint]) -> PluginLoadError:
    parties = [ep, *others]
    listing = " and ".join(
        f"{shown(p.distribution)}=={shown(p.version)} ({p.name} = {shown(p.target)})" for p in parties
    )
    same = "the entry-point name" if all(p.name == ep.name for p in parties) else "the entry-point name or plugin module"
    choices = " or ".join(f"{LOAD_PLUGINS_ENV}={shown(p.distribution)}:{p.name},..." for p in parties)
    return PluginLoadError(
        f"{len(parties)} distributions claim {same} {ep.name!r}: {listing}; "
        f"{'neither' if len(parties) == 2 else 'none'} is loaded until you "
        f"choose one ({choices}, listing the other plugins you want too) or uninstall the other",
        plugin=ep.name,
        distribution=f"{ep.distribution}=={ep.version}",
    )


def _first_per_distribution(found: Sequence[PluginEntryPoint]) -> list[PluginEntryPoint]:
    """Drop an entry point that a copy of the same distribution earlier on the path already declares.

    Python imports the first copy anyway (a shadowed install, not a second plugin).
    """
    seen: set[tuple[str, str]] = set()
    kept = []
    for ep in found:
        key = (_normalize(ep.distribution), ep.name)
        if key not in seen:
            seen.add(key)
            kept.append(ep)
    return kept


def load_plugins(
    *,
    strict: bool | None = None,
    allow: Iterable[str] | None = None,
    path: Sequence[str] | None = None,
    extra: Sequence[tuple[str, object]] = (),
) -> Plugins:
    """Discover, import, validate and register plugins; never raises for one plugin unless strict.

    Entry points load sorted by distribution name, then entry-point name, so the outcome does not
    depend on the order of ``sys.path``; see the module docstring for how conflicts are handled.

    :param strict: raise :class:`PluginLoadError` on the first failure (default: the
        ``CROSSMODAL_STRICT_PLUGINS`` environment variable).
    :param allow: plugins to load, each ``name`` or ``distribution:name`` (default:
        ``CROSSMODAL_LOAD_PLUGINS``; ``None`` = all).
    :param path: directories to search for distributions instead of ``sys.path``.
    :param extra: ``(name, plugin_object)`` pairs registered after the entry points (in-process
        plugins, e.g. in tests); always loaded.
    :returns: a :class:`Plugins` set; failures are in ``.broken``.
    """
    strict = _env_strict() if strict is None else strict
    items = _env_allow_list() if allow is None else list(allow)
    allowed = None if items is None else _AllowList(items)
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    plugins = Plugins(manager=manager, registry=core_registry(), strict=strict)

    found = [ep for ep in find_entry_points(path) if allowed is None or allowed.admits(ep)]
    entry_points = sorted(
        _first_per_distribution(found), key=lambda ep: (_normalize(ep.distribution), ep.name, ep.target)
    )
    conflicts = _conflicts(entry_points)
    candidates: list[tuple[str, str, str, PluginEntryPoint | None, object]] = [
        (ep.name, ep.distribution, ep.version, ep, None) for ep in entry_points
    ]
    candidates.extend((name, "", "", None, obj) for name, obj in extra)
    owners: dict[str, str] = {}  # plugin name -> "'name' (dist==version)" of the plugin registered under it
    # torch is not imported here: a plugin that registers its components by import path loads
    # without it, and one that imports torch at import time is charged for it in its load time

    for index, (name, dist, version, ep, obj) in enumerate(candidates):
        registered = False
        start = time.perf_counter()
        try:
            if index in conflicts:
                raise _conflict_error(ep, conflicts[index])
            if manager.has_plugin(name):
                raise PluginLoadError(
                    f"another plugin already uses the name {name!r}: {owners[name]}; the later one, "
                    f"{_owner(name, dist, version)}, is refused. Disable one of them with {LOAD_PLUGINS_ENV}",
                    plugin=name,
                )
            if ep is not None:
                obj = ep.load()
            _check_plugin_object(name, obj)
            if manager.is_registered(obj):
                taken = manager.get_name(obj)
                raise PluginLoadError(
                    f"its entry point names the plugin object that {owners.get(taken, repr(taken))} "
                    f"already registered; one plugin cannot load under two names. Disable one of them "
                    f"with {LOAD_PLUGINS_ENV}",
                    plugin=name,
                )
            manager.register(obj, name=name)
            registered = True
            owners[name] = _owner(name, dist, version)
            hooks = _hooks(manager, name)
            api = _api_version(manager, name)
            _check_pending(manager, name)
            _register_plugin(manager, plugins.registry, name, dist, version)
            seconds = time.perf_counter() - start
            plugins.loaded.append(LoadedPlugin(name, dist, version, hooks, api, seconds))
        except KeyboardInterrupt:
            raise  # Ctrl-C while a plugin loads still stops the command
        except BaseException as err:  # noqa: BLE001 - recorded (SystemExit included), never swallowed
            if registered:
                manager.unregister(name=name)
                owners.pop(name, None)
            broken = BrokenPlugin(name, dist, version, err, time.perf_counter() - start)
            if strict:
                raise PluginLoadError(broken.message, plugin=name, distribution=dist) from err
            plugins.broken.append(broken)
    return plugins
