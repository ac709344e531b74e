"""The component interfaces every plugin implements.

A cross-modal generator is assembled from three parts and judged by a fourth::

    condition --Encoder--> feature (B, F)
    noise     --TemporalSource--> per-segment vectors (B, S, T)   (with the feature too, if it asks)
    [feature, vector_s] --Decoder (one per track)--> segment s of that track (B, *segment_shape)
    (condition, sample) --Critic--> score (B,)

A *sample* is laid out as ``(batch, segments, *segment_shape, tracks)``: ``segments`` in
order along time, each segment a ``segment_shape`` grid per track. Components declare their sizes as attributes so that
partners can be checked against each other when a recipe is built, not deep inside training.
:class:`Evaluator` turns a batch of samples (and, if it asks, their conditions) into named
metrics; :class:`Descriptor` gives a few named numbers per item, for the conditioning report
(:mod:`crossmodal.evaluation.conditioning`); :class:`SampleSet` and :class:`SampleWriter` move samples
between files and tensors; :class:`SampleRenderer` turns written files into audio.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Mapping, Protocol, Sequence, runtime_checkable

import torch
from torch import nn

from crossmodal.errors import ShapeError

__all__ = [
    "Encoder",
    "TemporalSource",
    "Decoder",
    "Critic",
    "Evaluator",
    "Descriptor",
    "SampleSet",
    "SampleWriter",
    "SampleRenderer",
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
    ``N`` is batch x segments (each segment is decoded independently, in one call). Row
    ``b * n_segments + s`` is ``[feature of item b, temporal vector of segment s]``: item-major,
    segments in order within each item.
    Output: float tensor ``(N, *segment_shape)`` in the same row order, values in [0, 1] (where
    the segment is binary, the probability that a cell is on). Building a recipe runs the
    generator on two conditions and refuses values outside [0, 1] or not finite.
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

    An evaluator that measures how samples relate to their conditions sets the class attribute
    ``needs_conditions = True``; it is then called as ``totals(samples, conditions)``, with
    ``conditions`` ``(B, *condition_shape)`` the condition each sample was generated from (for
    real samples, the condition it is paired with), as the conditions sample set yields them,
    on the same device as ``samples``. The trainer hands them over in batches of
    ``batch_size`` and sums the totals, so a conditioned metric is a ratio of totals too. Such
    an evaluator runs during training (``metrics.csv`` and the curves) only: ``crossmodal
    evaluate`` has no conditions for a data set and leaves it out.

    An evaluator that compares the *distribution* of a set with that of a reference set (held-out
    real samples, for example) sets ``compares_sets = True`` and implements :meth:`features`
    and :meth:`compare` instead of :meth:`totals`: the core gathers ``features(batch)`` over the
    whole set in batches, does the same for the reference, and calls ``compare`` once. It runs
    when there is a reference: the recipe's ``validation`` set during training, ``--reference``
    (or a checkpoint's validation data) in ``crossmodal evaluate``.
    """

    name: ClassVar[str]
    sample_kind: ClassVar[str]
    description: ClassVar[str] = ""
    needs_conditions: ClassVar[bool] = False
    """Whether :meth:`totals` takes the samples' conditions as a second argument."""
    compares_sets: ClassVar[bool] = False
    """Whether the evaluator compares a set with a reference set (:meth:`features`, :meth:`compare`)."""

    def features(self, samples: torch.Tensor) -> Mapping[str, torch.Tensor]:  # pragma: no cover
        """Per-sample values of a set-comparing evaluator: ``{name: (B, ...)}`` for a batch ``(B, ...)``."""
        raise NotImplementedError

    def compare(
        self, features: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor]
    ) -> Mapping[str, torch.Tensor]:  # pragma: no cover
        """Metric values of a whole set against a reference set, from both sets' :meth:`features`
        (each ``{name: (N, ...)}``): ``{metric: tensor (n_tracks,) or ()}``, NaN where undefined."""
        raise NotImplementedError

    def totals(self, samples: torch.Tensor) -> Mapping[str, tuple[torch.Tensor, torch.Tensor]]:  # pragma: no cover
        """``{metric: (numerator, denominator)}`` summed over the batch (``totals(samples,
        conditions)`` when :attr:`needs_conditions` is set)."""
        raise NotImplementedError

    def __call__(self, samples: torch.Tensor, conditions: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Metric values on this batch: numerator / denominator, NaN where the latter is 0.

        :param conditions: ``(B, *condition_shape)``; required when :attr:`needs_conditions`
            is set, and not allowed otherwise.
        :raises TypeError: when ``conditions`` is missing for an evaluator that needs them, or
            given to one that does not.
        """
        if self.needs_conditions != (conditions is not None):
            raise TypeError(
                f"evaluator {getattr(self, 'name', type(self).__name__)!r}: "
                + ("needs the samples' conditions: call it as evaluator(samples, conditions)"
                   if self.needs_conditions else "takes no conditions (needs_conditions is False)")
            )
        if self.needs_conditions:
            return ratios(self.totals(samples, conditions))  # type: ignore[call-arg]
        return ratios(self.totals(samples))


class Descriptor:
    """A few named numbers per item (a painting's brightness, a phrase's mean pitch), and one
    feature vector per item, for the conditioning report (:mod:`crossmodal.evaluation.conditioning`).

    A recipe names one descriptor for its conditions and one for its samples
    (:attr:`crossmodal.Recipe.condition_descriptor`, :attr:`~crossmodal.Recipe.sample_descriptor`);
    ``sample_kind`` is matched against the sample set it describes (:attr:`SampleSet.sample_kind`).

    ``items`` is a float tensor ``(N, *item_shape)`` as that sample set yields it (or, for
    samples, as the generator makes them: ``(N, n_segments, *segment_shape, n_tracks)``,
    binary or probabilities). The report compares descriptors *across* items, so each value may
    be in any unit its docstring states.
    """

    name: ClassVar[str]
    sample_kind: ClassVar[str]
    description: ClassVar[str] = ""

    def describe(self, items: torch.Tensor) -> Mapping[str, torch.Tensor]:  # pragma: no cover - abstract
        """``{descriptor: values}``, each a float tensor ``(N,)``, NaN where undefined for an item
        (the mean pitch of a silent phrase); the same names, in the same order, for every call."""
        raise NotImplementedError

    def described(self, items: torch.Tensor) -> dict[str, torch.Tensor]:
        """:meth:`describe` as float64 ``(N,)`` tensors on the CPU (what the core gathers over batches)."""
        return {name: torch.as_tensor(value).double().reshape(-1).cpu() for name, value in self.describe(items).items()}

    def features(self, items: torch.Tensor) -> torch.Tensor:
        """One feature vector per item, float ``(N, D)`` (NaN where undefined), used to tell items
        of different conditions apart; the report standardises each column.

        By default the :meth:`describe` values as columns, in their order. Override it to add
        coarser summaries (histograms) that separate items better than a few numbers.
        """
        values = list(self.describe(items).values())
        return torch.stack([v.double().reshape(-1) for v in values], dim=1)


def add_totals(sums: dict[str, tuple[torch.Tensor, torch.Tensor]],
               totals: Mapping[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Add one batch's ``{name: (numerator, denominator)}`` (:meth:`Evaluator.totals`) to ``sums``,
    in float64 on the CPU; :func:`ratios` of the sums is then the value over every batch at once."""
    for name, (numerator, denominator) in totals.items():
        numerator, denominator = numerator.double().cpu(), denominator.double().cpu()
        if name in sums:
            numerator, denominator = numerator + sums[name][0], denominator + sums[name][1]
        sums[name] = (numerator, denominator)


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
    :func:`crossmodal.storage.outputs.write_new_group` does exactly this. ``crossmodal generate`` also
    stages each writer's files and claims fresh names itself.

    Who calls it with which stem: the trainer writes its fixed samples with stem ``sample``
    (``samples/step-XXXXXX/sample-0...``); ``crossmodal generate`` calls it once per condition
    item with that item's ``--samples`` samples, the stem being the condition file's name without
    its suffix (``NAME``) when the file holds one item and ``NAME-j`` for item ``j`` of a file
    holding several, so the files are ``NAME-i...`` or ``NAME-j-i...``.
    """

    def write(self, samples: torch.Tensor, directory: Path, stem: str) -> list[Path]: ...


@runtime_checkable
class SampleRenderer(Protocol):
    """Renders the files a :class:`SampleWriter` wrote into something a person can take in (a
    music plugin: sound; another plugin: a video, a preview...).

    ``render(files)`` takes the paths one ``write`` call returned (one folder) and, for each file
    it can render (a music plugin's renderer takes the MIDI files and leaves the pictures), writes
    one rendered file beside it under the same name with its own suffix (``NAME-0.mid`` ->
    ``NAME-0.wav``). Each is written atomically and never over an existing file
    (:func:`crossmodal.storage.outputs.write_new`). It returns the paths written, in the order of
    ``files``.

    ``engine`` is one line, set when the renderer is built, naming what renders and, for a
    fallback, why: ``"fluidsynth (FluidR3_GM.sf2)"``, ``"builtin additive synth (no FluidSynth
    found)"``. ``crossmodal generate --render`` prints it as ``renderer: <engine>`` on stderr.

    A recipe names its renderer (:attr:`crossmodal.Recipe.renderer`). ``crossmodal generate
    --render`` calls ``render`` on each condition's files in its private staging folder, then
    names the rendered files together with the files they were rendered from, so a renamed group
    (``NAME-0-2.mid``) keeps its rendering (``NAME-0-2.wav``).
    """

    engine: str

    def render(self, files: Sequence[Path]) -> list[Path]: ...
