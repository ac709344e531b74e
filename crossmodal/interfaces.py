"""The component interfaces every plugin implements.

A cross-modal generator is assembled from three parts and judged by a fourth::

    condition --Encoder--> feature (B, F)
    noise     --TemporalSource--> per-segment vectors (B, S, T)   (with the feature too, if it asks)
    [feature, vector_s] --Decoder (one per track)--> segment s of that track (B, *segment_shape)
    (condition, sample) --Critic--> score (B,)

A *sample* is laid out as ``(batch, segments, *segment_shape, tracks)``: ``segments`` in
order along time, each segment a ``segment_shape`` grid per track. Components declare their sizes as attributes so that
partners can be checked against each other when a recipe is built, not deep inside training.
:class:`Evaluator` turns a batch of samples into named metrics; :class:`SampleSet` and
:class:`SampleWriter` move samples between files and tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Mapping, Protocol, Sequence, runtime_checkable

import torch
from torch import nn

from .errors import ShapeError

__all__ = [
    "Encoder",
    "TemporalSource",
    "Decoder",
    "Critic",
    "Evaluator",
    "SampleSet",
    "SampleWriter",
    "check_shape",
    "ratios",
]


def check_shape(component: object, what: str, tensor: torch.Tensor, expected: Sequence[int | None]) -> None:
    """Raise :class:`ShapeError` unless ``tensor.shape`` matches ``expected`` (``None`` = any size).

    :param component: the module or object doing the check (named in the message).
    :param what: the argument's name, e.g. ``"condition"``.
    """
    shape = tuple(tensor.shape)
    if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape)):
        want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise ShapeError(
            f"{type(component).__name__}: {what} must have shape {want}, got {shape}"
        )


class Encoder(nn.Module):
    """Maps a condition to a feature vector.

    Input ``condition``: float tensor ``(B, *condition_shape)``, in the units its sample set
    documents. Output: float tensor ``(B, feature_dim)``.
    """

    condition_shape: tuple[int, ...]
    feature_dim: int

    def forward(self, condition: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class TemporalSource(nn.Module):
    """Maps noise (and, optionally, the condition's feature) to one vector per segment.

    One vector per segment of the sample, correlated over time.
    Input ``noise``: float tensor ``(B, noise_dim)``, standard normal.
    Output: float tensor ``(B, n_segments, temporal_dim)``.

    A source that sets ``uses_feature = True`` is a *conditioned* source, e.g. a shared trunk
    that every track's decoder branches from (MuseGAN's generator): it is called as
    ``forward(noise, feature)`` with the encoder's output ``feature``, a float tensor
    ``(B, feature_dim)``, and it declares the ``feature_dim`` it takes; building a recipe refuses
    an encoder whose ``feature_dim`` differs. The decoders still receive
    ``[feature, temporal vector]`` either way.
    """

    noise_dim: int
    n_segments: int
    temporal_dim: int
    uses_feature: ClassVar[bool] = False
    """Whether :meth:`forward` takes the condition's feature as a second argument."""
    feature_dim: int
    """The feature size a conditioned source (``uses_feature = True``) takes; unused otherwise."""

    def forward(self, noise: torch.Tensor, feature: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
        """``(B, noise_dim)`` noise [and ``(B, feature_dim)`` feature] -> ``(B, n_segments, temporal_dim)``."""
        raise NotImplementedError


class Decoder(nn.Module):
    """Generates one segment of one track from ``[feature, temporal vector]``.

    Input: float tensor ``(N, input_dim)`` where ``input_dim = feature_dim + temporal_dim``;
    ``N`` is batch x segments (each segment is decoded independently, in one call).
    Output: float tensor ``(N, *segment_shape)``, values in [0, 1] where the segment is binary (the probability that a cell is on).
    """

    input_dim: int
    segment_shape: tuple[int, ...]

    def forward(self, code: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class Critic(nn.Module):
    """Scores a (condition, sample) pair; a WGAN critic, so the score is an unbounded real.

    Inputs: ``condition`` ``(B, *condition_shape)``; ``sample``
    ``(B, n_segments, *segment_shape, n_tracks)``. Output: float tensor ``(B,)``.
    """

    condition_shape: tuple[int, ...]
    sample_shape: tuple[int, ...]

    def forward(self, condition: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


class Evaluator:
    """Computes named metrics on a batch of samples.

    Every metric is a ratio of two totals (for example empty segments / segments), so that values
    over a dataset too large for one batch are exact: :meth:`totals` returns, per metric, the numerator
    and the denominator summed over the batch, each a tensor of shape ``(n_tracks,)`` (a per-track
    metric) or ``()`` (one value per sample, e.g. between tracks). Summing totals over batches and
    dividing once gives the dataset's value; :meth:`__call__` does that for one batch, giving NaN
    where the denominator is 0 (for example a per-segment average over a sample whose segments are all empty).

    ``samples`` is a tensor ``(B, n_segments, *segment_shape, n_tracks)``, binary or
    probabilities (the evaluator binarises as its docstring says). ``sample_kind`` names the
    layout the evaluator understands (e.g. ``"sequence"``); it is matched against
    :attr:`SampleSet.sample_kind`.
    """

    name: ClassVar[str]
    sample_kind: ClassVar[str]
    description: ClassVar[str] = ""

    def totals(self, samples: torch.Tensor) -> Mapping[str, tuple[torch.Tensor, torch.Tensor]]:  # pragma: no cover
        raise NotImplementedError

    def __call__(self, samples: torch.Tensor) -> dict[str, torch.Tensor]:
        """Metric values on this batch: numerator / denominator, NaN where the latter is 0."""
        return ratios(self.totals(samples))


def ratios(totals: Mapping[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Turn ``{name: (numerator, denominator)}`` into ``{name: value}``; NaN where denominator is 0."""
    values = {}
    for name, (numerator, denominator) in totals.items():
        numerator = numerator.double()
        denominator = denominator.double()
        nan = torch.full_like(numerator, float("nan"))
        values[name] = torch.where(denominator > 0, numerator / denominator.clamp_min(1e-300), nan)
    return values


@runtime_checkable
class SampleSet(Protocol):
    """A dataset of conditions or targets that the trainer draws batches from.

    ``sample_shape`` is the shape of one item; ``batch(indices)`` returns a float32 tensor
    ``(len(indices), *sample_shape)``; ``sample_kind`` names the layout (``"vector"``,
    ``"sequence"``, ...); ``sources`` gives, per item, a short description of where it came
    from (file, offset) for reports.
    """

    sample_kind: str
    sample_shape: tuple[int, ...]

    def __len__(self) -> int: ...

    def batch(self, indices: torch.Tensor) -> torch.Tensor: ...

    def sources(self) -> Sequence[str]: ...


@runtime_checkable
class SampleWriter(Protocol):
    """Writes generated samples to files a person can open (a data file and a picture, say).

    ``write(samples, directory, stem)`` takes ``(B, n_segments, *segment_shape, n_tracks)``
    in [0, 1], writes the files of sample ``i`` under the name ``{stem}-{i}`` (plus the
    writer's suffixes) and returns the paths actually written, each written atomically. A
    writer never overwrites an existing file: when a name is taken it writes
    ``{stem}-{i}-2<suffix>`` (the first free number, shared by all files of sample ``i``);
    :func:`crossmodal.outputs.write_new_group` does exactly this. ``crossmodal generate`` also
    stages each writer's files and claims fresh names itself.
    """

    def write(self, samples: torch.Tensor, directory: Path, stem: str) -> list[Path]: ...
