"""Creating a registered entry from a :class:`~crossmodal.contract.recipe.ComponentSpec`: its
options checked against its factory's signature first, and a factory's failure turned into one line."""

from __future__ import annotations

import inspect
from typing import Any, Collection, Mapping

from crossmodal.contract.recipe import ComponentSpec
from crossmodal.contract.registry import ComponentInfo, Registry
from crossmodal.errors import CrossmodalError, RecipeError, UnknownComponentError

__all__ = ["check_options", "create_component", "first_line", "lookup"]


def lookup(registry: Registry, kind: str, name: str, origin: str) -> ComponentInfo:
    """``registry.get(kind, name)``; an unknown name is an :class:`UnknownComponentError` naming
    ``origin`` and saying the entry may come from a plugin that is not loaded."""
    try:
        return registry.get(kind, name)
    except UnknownComponentError as err:
        raise UnknownComponentError(
            f"{origin}: {err} The {kind} may belong to a plugin that is not installed or not loaded."
        ) from err


_BUILD_ERRORS = (RuntimeError, MemoryError, ValueError, TypeError, OverflowError)
"""What a factory raises for option values it cannot build (a 32 TB layer, a negative size...)."""


def first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0].strip() if lines else type(err).__name__


def _options_text(options: Mapping[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "no options"
    return text if len(text) <= 200 else text[:197] + "..."


def check_options(
    registry: Registry,
    kind: str,
    spec: ComponentSpec,
    origin: str,
    *,
    extra: Collection[str] = (),
    command_line: Collection[str] = (),
    label: str = "",
    error: type[CrossmodalError] = RecipeError,
) -> None:
    """Check ``spec.options`` against the signature of the factory registered as ``(kind, spec.name)``.

    Nothing is built. Factories that take ``**kwargs`` accept any option name.

    :param origin: where the options come from, for the message (``"recipe 'toy'"``,
        ``"checkpoint runs/a/checkpoints/checkpoint-00000010.pt (recipe 'toy')"``).
    :param extra: argument names the core passes itself (``source`` for datasets).
    :param command_line: option names given on the command line (said so in the message).
    :param label: how the component is named (default ``<kind> '<name>'``).
    :raises error: naming the origin, the component, the bad option and the accepted ones.
    :raises UnknownComponentError: when nothing is registered under the name (naming ``origin``).
    """
    info = lookup(registry, kind, spec.name, origin)
    label = label or f"{kind} {spec.name!r}"
    try:
        signature = inspect.signature(info.factory)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check against
        return
    parameters = signature.parameters.values()
    named = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    accepted = [name for name in named if name not in extra]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
    where = f"{origin}: {label} from {info.provider}"
    listing = f"it accepts: {', '.join(accepted)}" if accepted else "it takes no options"

    def cause(name: str) -> str:
        return " (given on the command line)" if name in command_line else ""

    reserved = [name for name in spec.options if name in extra]
    if reserved:
        raise error(f"{where}: option {reserved[0]!r}{cause(reserved[0])} is set by crossmodal itself; {listing}")
    unknown = [] if takes_any else [name for name in spec.options if name not in named]
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise error(f"{where} has no option{plural} {names}{cause(unknown[0])}; {listing}")
    try:
        signature.bind(**{name: None for name in extra}, **dict(spec.options))
    except TypeError as err:
        raise error(f"{where} cannot take these options ({first_line(err)}); {listing}") from err


def create_component(
    registry: Registry,
    kind: str,
    spec: ComponentSpec,
    origin: str,
    *,
    expected: type = object,
    label: str = "",
    error: type[CrossmodalError] = RecipeError,
    command_line: Collection[str] = (),
    **extra: Any,
) -> Any:
    """Check the options (:func:`check_options`), then call the factory with ``extra`` and them.

    A factory that fails on its option values (``RuntimeError`` of a huge allocation,
    ``MemoryError``, ``ValueError``, ``TypeError``) becomes one ``error`` line naming the origin,
    the component and the options; our own errors (:class:`~crossmodal.errors.DataError`...)
    pass through unchanged.

    :param expected: the class the object must be an instance of (``object``: anything).
    :raises error: see above, or when the factory built the wrong type.
    """
    check_options(registry, kind, spec, origin, extra=tuple(extra), command_line=command_line,
                  label=label, error=error)
    info = registry.get(kind, spec.name)
    label = label or f"{kind} {spec.name!r}"
    try:
        obj = info.factory(**extra, **dict(spec.options))
    except CrossmodalError:
        raise
    except _BUILD_ERRORS as err:
        raise error(
            f"{origin}: {label} from {info.provider} could not be built with "
            f"{_options_text(spec.options)} ({type(err).__name__}: {first_line(err)})"
        ) from err
    if expected is not object and not isinstance(obj, expected):
        raise error(
            f"{origin}: {label} from {info.provider} built a {type(obj).__name__}, "
            f"which is not a crossmodal.{expected.__name__}"
        )
    return obj
