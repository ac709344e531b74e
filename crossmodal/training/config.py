"""Training hyper-parameters (:class:`TrainConfig`), where they come from, and the critic schedule.

Layers are merged in this order, later ones winning::

    TrainConfig defaults < recipe.training < config file (JSON or TOML) < command-line options

Use :func:`resolve_config` for the whole chain; each layer names itself in error messages.
A resumed run starts from the options recorded in its checkpoint instead, and only the options
in :data:`RESUMABLE_OPTIONS` may change (:func:`resume_config`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from crossmodal.errors import DataError, RecipeError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "RESUMABLE_OPTIONS",
    "TrainConfig",
    "critic_updates_for",
    "resolve_config",
    "resolve_device",
    "resume_config",
    "updates_through",
]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one WGAN-GP training run.

    A "step" is one generator update; the critic is updated :func:`critic_updates_for` times
    before each. The defaults follow the paper: Adam at 1e-4 with betas (0.5, 0.9), batch 64,
    50 critic updates per generator update for the first 100 generator updates, then 5.
    """

    steps: int = 100_000
    """Generator updates to train for (a total, counted from the start of the run)."""
    batch_size: int = 64
    """(condition, target) pairs per batch, for both critic and generator updates."""
    lr: float = 1e-4
    """Adam learning rate of both networks (per update)."""
    beta1: float = 0.5
    """Adam's first-moment decay (dimensionless)."""
    beta2: float = 0.9
    """Adam's second-moment decay (dimensionless)."""
    gp_weight: float = 10.0
    """Gradient-penalty coefficient lambda (dimensionless)."""
    generator_average: float = 0.0
    """Decay, per generator update, of an exponential moving average of the generator's weights
    (``0``: none). The first update copies the weights; the ``t``-th after it folds them in as
    ``average <- d_t * average + (1 - d_t) * weights`` with ``d_t = min(decay, (1 + t) / (10 + t))``,
    so the average spans about the last tenth of a short run and ``1 / (1 - decay)`` updates of a long one.
    When on, evaluations, written samples, ``generate`` and ``evaluate --checkpoint`` use the
    averaged weights; training itself goes on from the trained ones."""
    critic_updates_warmup: int = 50
    """Critic updates per generator update during the warm-up."""
    warmup_generator_steps: int = 100
    """Length of the warm-up, in generator updates."""
    critic_updates: int = 5
    """Critic updates per generator update after the warm-up."""
    eval_every: int = 500
    """Generator updates between evaluations (metrics.csv, curves); 0 = only at the end."""
    sample_every: int = 1000
    """Generator updates between written samples; 0 = only at the end."""
    checkpoint_every: int = 1000
    """Generator updates between checkpoints; 0 = only at the end."""
    keep_checkpoints: int = 3
    """How many of the newest checkpoints to keep on disk (at least 1)."""
    log_every: int = 10
    """Generator updates between progress reports and divergence checks (one host sync each)."""
    divergence_bound: float = 1e6
    """Largest absolute value a logged loss may reach, in that loss's own units (the weighted
    gradient penalty, a Wasserstein estimate, an extra term times its weight). A loss above it
    stops training with :class:`~crossmodal.errors.TrainingDivergedError`, like a NaN or inf
    does; ``inf`` turns the bound off (NaN and inf are still caught)."""
    eval_samples: int = 256
    """Generated and real samples each evaluation compares."""
    write_samples: int = 4
    """Fixed (condition, noise) pairs written every ``sample_every`` updates."""
    seed: int = 0
    """Seed of every random number generator the run uses."""
    device: str = "auto"
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    bf16: bool = False
    """Run the networks under bfloat16 autocast (the gradient penalty stays float32)."""
    out_dir: str = "runs"
    """Directory in which each run gets its own folder."""

    def __post_init__(self) -> None:
        positive = ("steps", "batch_size", "critic_updates_warmup", "critic_updates", "keep_checkpoints",
                    "log_every", "eval_samples")
        non_negative = ("warmup_generator_steps", "eval_every", "sample_every", "checkpoint_every",
                        "write_samples")
        for name in positive + non_negative:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            if value < (1 if name in positive else 0):
                raise ValueError(f"{name} must be {'>= 1' if name in positive else '>= 0'}, got {value}")
        for name in ("lr", "beta1", "beta2", "gp_weight", "generator_average"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        bound = self.divergence_bound
        if not isinstance(bound, (int, float)) or isinstance(bound, bool) or math.isnan(bound) or bound <= 0:
            raise ValueError(f"divergence_bound must be a number > 0 (inf: no bound), got {bound!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"Adam betas must be in [0, 1), got ({self.beta1}, {self.beta2})")
        if not 0 <= self.generator_average < 1:
            raise ValueError(f"generator_average must be in [0, 1) (0: no average), got {self.generator_average}")
        if not isinstance(self.bf16, bool):
            raise ValueError(f"bf16 must be true or false, got {self.bf16!r}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")

    # ---------------------------------------------------------------------------------------
    # Conversions

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON/TOML-serialisable)."""
        return dataclasses.asdict(self)

    def merged(self, overrides: Mapping[str, Any], origin: str) -> "TrainConfig":
        """A copy with ``overrides`` applied; ``None`` values are ignored.

        :param origin: names the layer in errors, e.g. ``"recipe 'toy' training"``.
        :raises RecipeError: on an unknown field or a bad value (naming ``origin``).
        """
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if value is None:
                continue
            name = key.replace("-", "_")
            if name not in known:
                if name in RETIRED_OPTIONS and value == RETIRED_OPTIONS[name]:
                    continue  # checkpoints written before the option was retired record it
                raise RecipeError(
                    f"{origin}: unknown training option {key!r}; known options: {', '.join(known)}"
                )
            default = getattr(self, name)
            if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            changes[name] = value
        try:
            return dataclasses.replace(self, **changes)
        except (TypeError, ValueError) as err:
            raise RecipeError(f"{origin}: {err}") from err

    @classmethod
    def from_file(cls, path: str | Path, base: "TrainConfig | None" = None) -> "TrainConfig":
        """Read a ``.json`` or ``.toml`` file of options over ``base`` (default: the defaults).

        A TOML file may hold the options at top level or in a ``[training]`` table.

        :raises DataError: when the file cannot be read or parsed (naming the file).
        :raises RecipeError: on an unknown option or a bad value (naming the file).
        """
        path = Path(path)
        return (base or cls()).merged(_read_options(path), f"config file {path}")


def _read_options(path: Path) -> dict[str, Any]:
    """The options of a ``.json`` or ``.toml`` file (a TOML file's ``[training]`` table if it has one).

    :raises DataError: when the file cannot be read or parsed (naming the file).
    """
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".toml":
            document = tomllib.loads(text)
            document = document.get("training", document)
        else:
            document = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise DataError(f"config file {path}: cannot read it: {err}") from err
    if not isinstance(document, dict):
        raise DataError(f"config file {path}: expected a table of options, got {type(document).__name__}")
    return document


def resolve_config(
    recipe_training: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    recipe_name: str = "",
) -> TrainConfig:
    """Merge defaults < ``recipe_training`` < ``config_file`` < ``overrides`` (``None`` = not given)."""
    config = TrainConfig().merged(recipe_training or {}, f"recipe {recipe_name!r} training")
    if config_file is not None:
        config = TrainConfig.from_file(config_file, base=config)
    return config.merged(overrides or {}, "command-line options")


def critic_updates_for(generator_step: int, config: TrainConfig) -> int:
    """Critic updates to run before generator update number ``generator_step`` (counted from 0).

    ``critic_updates_warmup`` while ``generator_step < warmup_generator_steps``, then
    ``critic_updates``; with the defaults, 50 for updates 0-99 and 5 from update 100 on.
    """
    if generator_step < config.warmup_generator_steps:
        return config.critic_updates_warmup
    return config.critic_updates


def updates_through(generator_steps: int, config: TrainConfig) -> int:
    """Updates, critic and generator together, in generator updates ``0 .. generator_steps - 1``
    (:func:`critic_updates_for` critic updates and one generator update each); with the
    defaults, 5,100 for the first 100 generator updates. A progress bar counts these.
    """
    warm = min(generator_steps, config.warmup_generator_steps)
    return warm * (config.critic_updates_warmup + 1) + (generator_steps - warm) * (config.critic_updates + 1)


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to :class:`torch.device`.

    :raises RecipeError: when CUDA is asked for but not available.
    """
    import torch  # here, so that importing this module (for ``crossmodal train --help``) imports no torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RecipeError(f"device {name!r} was requested but CUDA is not available; use --device cpu")
    return device


_SAME_UPDATES = ("it changes the updates themselves, so the run would no longer continue the one it "
                 "resumes; start a new run to train with it")
_SAME_PAIRS = ("it changes the fixed (condition, noise) pairs that evaluations and samples use, so new "
               "metrics and samples would not compare with the run's earlier ones")

RETIRED_OPTIONS: Mapping[str, Any] = {"channels_last": False}
"""Retired options -> the value that changed nothing, which older checkpoints record: an option
at that value is ignored, at any other refused as unknown (docs/benchmarks.md, Retired levers)."""

RESUMABLE_OPTIONS = frozenset({
    "steps", "eval_every", "sample_every", "checkpoint_every", "keep_checkpoints", "log_every",
    "divergence_bound", "device",
})
"""Options that may differ from the recorded ones when a run is resumed: how long it trains, how
often it reports, evaluates, samples and checkpoints, how many checkpoints it keeps, the
divergence bound and the device. Every other option would change what is trained or measured."""

_WHY_NOT_RESUMABLE: dict[str, str] = {
    **{name: _SAME_UPDATES for name in ("batch_size", "lr", "beta1", "beta2", "gp_weight",
                                        "critic_updates_warmup", "warmup_generator_steps",
                                        "critic_updates", "seed", "bf16")},
    "generator_average": ("it changes the averaged weights that evaluations and samples use, so new "
                          "metrics and samples would not compare with the run's earlier ones"),
    "eval_samples": _SAME_PAIRS,
    "write_samples": _SAME_PAIRS,
    "out_dir": "a resumed run continues in its own run folder",
}


def resume_config(
    recorded: TrainConfig,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """The recorded options of a run < ``config_file`` < ``overrides``, for resuming it.

    An option may be given with the value it already has; only those in
    :data:`RESUMABLE_OPTIONS` may take another.

    :raises RecipeError: naming the option, where it came from, both values and why it may not
        change (or an unknown option or a bad value, as :meth:`TrainConfig.merged`).
    :raises DataError: when ``config_file`` cannot be read.
    """
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if config_file is not None:
        layers.append((f"config file {config_file}", _read_options(Path(config_file))))
    layers.append(("command-line options", overrides or {}))
    config = recorded
    for origin, options in layers:
        config = config.merged(options, origin)
        for field in fields(TrainConfig):
            name = field.name
            old, new = getattr(recorded, name), getattr(config, name)
            if name in RESUMABLE_OPTIONS or new == old:
                continue
            raise RecipeError(
                f"{origin}: training option {name!r} cannot change when resuming (the run has {old!r}, "
                f"{new!r} was given): {_WHY_NOT_RESUMABLE.get(name, _SAME_UPDATES)}. Options that may "
                f"change: {', '.join(sorted(RESUMABLE_OPTIONS))}"
            )
    return config
