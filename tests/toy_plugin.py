"""A tiny second modality for testing the core: 8-d vectors in, two-track number sequences out.

Conditions are float vectors ``(8,)``; a target sample is ``(2 segments, 6 steps, 2 tracks)``
with values in [0, 1]. Everything is small enough that a training step takes milliseconds.
Registered in-process with ``load_plugins(extra=[("toy", toy_plugin)])`` or
``make_cli(extra_plugins=[("toy", toy_plugin)])``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from crossmodal import (
    API_VERSION,
    ComponentSpec,
    Critic,
    DataError,
    Decoder,
    Encoder,
    Evaluator,
    Recipe,
    Register,
    TemporalSource,
    check_shape,
    hookimpl,
    load_plugins,
)

CONDITION_DIM = 8  # values per condition vector
N_SEGMENTS = 2  # segments per sample
SEGMENT_STEPS = 6  # steps per segment
N_TRACKS = 2  # tracks per sample
FEATURE_DIM = 4
TEMPORAL_DIM = 2
NOISE_DIM = 3

# The toy networks are a few hundred weights: intra-op threads only add synchronisation (measured
# 73 ms vs 2.9 ms per critic update on a busy 2-core machine), so the tests run single-threaded.
torch.set_num_threads(1)

# Fast settings for tests: the schedule is exercised but each run is a handful of updates.
TOY_TRAINING = {
    "batch_size": 8,
    "critic_updates_warmup": 3,
    "warmup_generator_steps": 2,
    "critic_updates": 2,
    "eval_every": 2,
    "sample_every": 2,
    "checkpoint_every": 2,
    "keep_checkpoints": 2,
    "log_every": 1,
    "eval_samples": 16,
    "write_samples": 2,
    "device": "cpu",
}


class ToyEncoder(Encoder):
    """Condition ``(B, 8)`` -> feature ``(B, feature_dim)``."""

    def __init__(self, condition_dim: int = CONDITION_DIM, feature_dim: int = FEATURE_DIM) -> None:
        super().__init__()
        self.condition_shape = (condition_dim,)
        self.feature_dim = feature_dim
        self.net = nn.Sequential(nn.Linear(condition_dim, feature_dim), nn.Tanh())

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        return self.net(condition)


class ToyTemporal(TemporalSource):
    """Noise ``(B, 3)`` -> per-segment vectors ``(B, n_segments, temporal_dim)``."""

    def __init__(self, n_segments: int = N_SEGMENTS, temporal_dim: int = TEMPORAL_DIM, noise_dim: int = NOISE_DIM) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.n_segments = n_segments
        self.temporal_dim = temporal_dim
        self.net = nn.Linear(noise_dim, n_segments * temporal_dim)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.net(noise).reshape(-1, self.n_segments, self.temporal_dim)


class ToyConditionedTemporal(TemporalSource):
    """A shared trunk: [noise ``(B, 3)``, feature ``(B, feature_dim)``] -> ``(B, n_segments, temporal_dim)``."""

    uses_feature = True

    def __init__(self, n_segments: int = N_SEGMENTS, temporal_dim: int = TEMPORAL_DIM, noise_dim: int = NOISE_DIM,
                 feature_dim: int = FEATURE_DIM) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.n_segments = n_segments
        self.temporal_dim = temporal_dim
        self.feature_dim = feature_dim
        self.net = nn.Linear(noise_dim + feature_dim, n_segments * temporal_dim)

    def forward(self, noise: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        check_shape(self, "feature", feature, (noise.shape[0], self.feature_dim))
        joined = torch.cat([noise, feature], dim=1)  # (B, noise_dim + feature_dim)
        return self.net(joined).reshape(-1, self.n_segments, self.temporal_dim)


class ToyDecoder(Decoder):
    """Code ``(N, input_dim)`` -> one segment ``(N, steps)`` in [0, 1]."""

    def __init__(self, input_dim: int = FEATURE_DIM + TEMPORAL_DIM, steps: int = SEGMENT_STEPS) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.segment_shape = (steps,)
        self.net = nn.Sequential(nn.Linear(input_dim, 16), nn.LeakyReLU(0.2), nn.Linear(16, steps), nn.Sigmoid())

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code)


class ToyCritic(Critic):
    """Scores (condition ``(B, 8)``, sample ``(B, 2, 6, 2)``) pairs -> ``(B,)``."""

    def __init__(self, condition_dim: int = CONDITION_DIM,
                 sample_shape: tuple[int, ...] = (N_SEGMENTS, SEGMENT_STEPS, N_TRACKS)) -> None:
        super().__init__()
        self.condition_shape = (condition_dim,)
        self.sample_shape = tuple(sample_shape)
        size = condition_dim + int(np.prod(self.sample_shape))
        self.net = nn.Sequential(nn.Linear(size, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))

    def forward(self, condition: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        joined = torch.cat([condition, sample.reshape(sample.shape[0], -1)], dim=1)
        return self.net(joined).squeeze(1)


class ToyConditions:
    """Condition vectors: synthetic (``source=None``) or read from ``.npy``/``.txt`` files of 8 numbers."""

    sample_kind = "vector"

    def __init__(self, source: str | os.PathLike | None = None, n: int = 40, dim: int = CONDITION_DIM, seed: int = 0):
        self.sample_shape = (dim,)
        self.skipped: list[tuple[str, str]] = []
        if source is None:
            rng = np.random.default_rng(seed)
            self._data = torch.from_numpy(rng.uniform(-1, 1, (n, dim)).astype(np.float32))
            self._sources = [f"synthetic #{i}" for i in range(n)]
            return
        paths = sorted(Path(source).iterdir()) if Path(source).is_dir() else [Path(source)]
        rows, names = [], []
        for path in paths:
            try:
                values = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, ndmin=1)
                values = np.asarray(values, dtype=np.float32).reshape(-1)
                if values.shape != (dim,):
                    raise ValueError(f"holds {values.size} numbers, expected {dim}")
            except (OSError, ValueError) as err:
                self.skipped.append((str(path), str(err).splitlines()[0]))
                continue
            rows.append(torch.from_numpy(values))
            names.append(str(path))
        if not rows:
            reasons = "; ".join(f"{p}: {r}" for p, r in self.skipped)
            raise DataError(f"no usable condition file in {source} ({reasons})")
        self._data = torch.stack(rows)
        self._sources = names

    def __len__(self) -> int:
        return self._data.shape[0]

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        return self._data[indices]

    def sources(self) -> list[str]:
        return list(self._sources)


class ToyTargets:
    """Synthetic targets ``(2, 6, 2)``: even tracks are rising ramps, odd ones falling, plus noise."""

    sample_kind = "sequence"

    def __init__(self, source: str | None = None, n: int = 30, seed: int = 1,
                 sample_shape: tuple[int, ...] = (N_SEGMENTS, SEGMENT_STEPS, N_TRACKS)):
        if source is not None:
            raise DataError(f"toy targets are synthetic only; got source {source}")
        self.sample_shape = tuple(sample_shape)
        rng = np.random.default_rng(seed)
        steps = int(np.prod(self.sample_shape[:-1]))
        ramp = np.linspace(0.1, 0.9, steps, dtype=np.float32)
        base = np.stack([ramp if k % 2 == 0 else ramp[::-1] for k in range(self.sample_shape[-1])], axis=-1)
        data = base[None] + rng.normal(0, 0.05, (n, steps, base.shape[-1])).astype(np.float32)
        self._data = torch.from_numpy(np.clip(data, 0, 1).reshape(n, *self.sample_shape))

    def __len__(self) -> int:
        return self._data.shape[0]

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        return self._data[indices]

    def sources(self) -> list[str]:
        return [f"synthetic target #{i}" for i in range(len(self))]


class ToyMean(Evaluator):
    """``mean``: mean value per track, ``(n_tracks,)``; ``spread``: overall standard deviation, ``()``."""

    name = "toy-mean"
    sample_kind = "sequence"

    def __call__(self, samples: torch.Tensor):
        per_track = samples.reshape(-1, samples.shape[-1]).mean(dim=0)
        return {"mean": per_track, "spread": samples.std()}

    def totals(self, samples: torch.Tensor):
        """``mean`` as a ratio of totals (sum, count per track), for ``crossmodal evaluate``;
        ``spread`` is not a ratio of totals, so only ``__call__`` gives it."""
        values = samples.reshape(-1, samples.shape[-1]).double()
        return {"mean": (values.sum(dim=0), torch.full_like(values[0], values.shape[0]))}


class ToyOtherKind(Evaluator):
    """An evaluator of another sample kind, for testing that mismatches are refused."""

    name = "toy-other-kind"
    sample_kind = "something-else"

    def __call__(self, samples: torch.Tensor):
        return {"zero": torch.zeros(())}


class ToyWriter:
    """Writes sample i of a batch as ``<stem>-<i>.npy`` and ``<stem>-<i>.txt``."""

    def write(self, samples: torch.Tensor, directory: Path, stem: str) -> list[Path]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for index, sample in enumerate(samples.detach().cpu().numpy()):
            npy, txt = directory / f"{stem}-{index}.npy", directory / f"{stem}-{index}.txt"
            with open(npy.with_name(npy.name + ".tmp"), "wb") as handle:
                np.save(handle, sample)
            os.replace(npy.with_name(npy.name + ".tmp"), npy)
            txt.with_name(txt.name + ".tmp").write_text(" ".join(f"{v:.3f}" for v in sample.reshape(-1)) + "\n")
            os.replace(txt.with_name(txt.name + ".tmp"), txt)
            written += [npy, txt]
        return written


def toy_recipe() -> Recipe:
    """The toy recipe: vectors to two-track sequences."""
    return Recipe(
        name="toy",
        encoder=ComponentSpec("toy-encoder"),
        temporal=ComponentSpec("toy-temporal"),
        decoder=ComponentSpec("toy-decoder"),
        critic=ComponentSpec("toy-critic"),
        conditions=ComponentSpec("toy-conditions"),
        targets=ComponentSpec("toy-targets"),
        n_tracks=N_TRACKS,
        evaluators=("toy-mean",),
        writer=ComponentSpec("toy-writer"),
        training=dict(TOY_TRAINING),
    )


@hookimpl
def crossmodal_api_version() -> int:
    return API_VERSION


@hookimpl
def crossmodal_register_components(register: Register) -> None:
    register("encoder", "toy-encoder", ToyEncoder)
    register("temporal-source", "toy-temporal", ToyTemporal)
    register("temporal-source", "toy-conditioned-temporal", ToyConditionedTemporal)
    register("decoder", "toy-decoder", ToyDecoder)
    register("critic", "toy-critic", ToyCritic)
    register("sample-set", "toy-conditions", ToyConditions)
    register("sample-set", "toy-targets", ToyTargets)
    register("evaluator", "toy-mean", ToyMean)
    register("evaluator", "toy-other-kind", ToyOtherKind)
    register("sample-writer", "toy-writer", ToyWriter)
    register("recipe", "toy", toy_recipe)


def toy_registry():
    """A registry holding only the toy plugin (no installed plugin is loaded)."""
    return load_plugins(extra=[("toy", sys.modules[__name__])], allow=[]).registry
