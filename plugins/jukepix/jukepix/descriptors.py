"""Descriptors of paintings and phrases, for ``crossmodal evaluate --conditioning``.

Registered under kind ``descriptor``: ``painting`` (:class:`PaintingDescriptor`, items of kind
``"image"``) and ``phrase`` (:class:`PhraseDescriptor`, items of kind ``"pianoroll"``); the
Jukepix recipes name them as their ``condition_descriptor`` and ``sample_descriptor``. The
conditioning report correlates every painting descriptor with every phrase descriptor across
paintings, and tells paintings apart by the phrase feature vectors (:meth:`PhraseDescriptor.features`).

Public: :class:`PaintingDescriptor`, :class:`PhraseDescriptor`, :func:`luma`,
:func:`colourfulness`, :func:`warmth`, :func:`edge_density`, :func:`pitch_class_histogram`,
:func:`mode_score`, :data:`MAJOR_PROFILE`, :data:`MINOR_PROFILE`.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from crossmodal import Descriptor, check_shape

from .constants import IMAGE_SHAPE, N_OCTAVES, PHRASE_SHAPE, SEMITONES_PER_OCTAVE

__all__ = [
    "CANNY_HIGH",
    "CANNY_LOW",
    "LUMA_WEIGHTS",
    "MAJOR_PROFILE",
    "MINOR_PROFILE",
    "ON_THRESHOLD",
    "PaintingDescriptor",
    "PhraseDescriptor",
    "colourfulness",
    "edge_density",
    "luma",
    "mode_score",
    "pitch_class_histogram",
    "warmth",
]

LUMA_WEIGHTS = (0.299, 0.587, 0.114)
"""ITU-R BT.601 weights of R, G and B in the luma (perceived brightness)."""

LEVELS = 255
"""8-bit levels per unit of a [0, 1] channel: colourfulness and Canny work on 0-255 values."""

CANNY_LOW, CANNY_HIGH = 100, 200
"""Canny hysteresis thresholds, in 8-bit grey levels of gradient magnitude (OpenCV's Sobel 3x3)."""

ON_THRESHOLD = 0.5
"""A piano-roll cell is on when its value is above this (as the evaluators binarise)."""

MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
"""Krumhansl & Kessler's (1982) C major key profile: rated fit of each pitch class C ... B."""

MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
"""Krumhansl & Kessler's (1982) C minor key profile: rated fit of each pitch class C ... B."""


# -------------------------------------------------------------------------------------------
# Paintings: (N, 3, H, W) RGB in [0, 1]
# -------------------------------------------------------------------------------------------


def luma(images: torch.Tensor) -> torch.Tensor:
    """Mean BT.601 luma per image, ``(N,)`` in [0, 1] (0 black, 1 white)."""
    weights = images.new_tensor(LUMA_WEIGHTS).reshape(1, 3, 1, 1)
    return (images * weights).sum(dim=1).mean(dim=(1, 2))


def colourfulness(images: torch.Tensor) -> torch.Tensor:
    """Hasler & Suesstrunk's (2003) colourfulness per image, ``(N,)``, on the 0-255 scale.

    With ``rg = R - G`` and ``yb = (R + G) / 2 - B`` over the pixels (in 8-bit levels):
    ``M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2)``. 0 for a grey image;
    the paper calls about 33 "moderately" and above 59 "highly" colourful.
    """
    red, green, blue = (images.double() * LEVELS).unbind(dim=1)  # each (N, H, W)
    rg = (red - green).flatten(1)
    yb = ((red + green) / 2 - blue).flatten(1)
    spread = (rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False)).sqrt()
    centre = (rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2).sqrt()
    return spread + 0.3 * centre


def warmth(images: torch.Tensor) -> torch.Tensor:
    """Mean of red minus blue per image, ``(N,)`` in [-1, 1]: positive for warm (reddish) images."""
    return (images[:, 0] - images[:, 2]).double().mean(dim=(1, 2))


def edge_density(images: torch.Tensor) -> torch.Tensor:
    """Share of pixels that OpenCV's Canny detector marks as edges, per image, ``(N,)`` in [0, 1].

    Each image goes to 8-bit grey (``cv2.COLOR_RGB2GRAY``), then ``cv2.Canny`` with thresholds
    :data:`CANNY_LOW`, :data:`CANNY_HIGH`.
    """
    pixels = (images.detach().clamp(0, 1) * LEVELS).round().to(torch.uint8)
    pixels = pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy()  # (N, H, W, 3) RGB
    shares = [
        float(np.count_nonzero(cv2.Canny(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), CANNY_LOW, CANNY_HIGH)))
        / (image.shape[0] * image.shape[1])
        for image in pixels
    ]
    return torch.tensor(shares, dtype=torch.float64)


class PaintingDescriptor(Descriptor):
    """Painting: brightness (BT.601 luma), colourfulness (Hasler-Suesstrunk), warmth (R - B), edge density (Canny)."""

    name = "painting"
    sample_kind = "image"
    description = __doc__

    def describe(self, items: torch.Tensor) -> dict[str, torch.Tensor]:
        """``brightness`` (:func:`luma`), ``colourfulness``, ``warmth``, ``edge-density``, each float64
        ``(N,)``, for RGB images ``(N, 3, 256, 256)`` in [0, 1]."""
        check_shape(self, "items", items, (None, *IMAGE_SHAPE))
        images = items.float().cpu()
        return {
            "brightness": luma(images).double(),
            "colourfulness": colourfulness(images),
            "warmth": warmth(images),
            "edge-density": edge_density(images),
        }


# -------------------------------------------------------------------------------------------
# Phrases: (N, bars, steps, pitches, tracks), values in [0, 1]
# -------------------------------------------------------------------------------------------


def _on(phrases: torch.Tensor) -> torch.Tensor:
    """Bool ``(N, bars, steps, pitches, tracks)``: cells above :data:`ON_THRESHOLD`."""
    return phrases if phrases.dtype == torch.bool else phrases > ON_THRESHOLD


def pitch_class_histogram(on: torch.Tensor) -> torch.Tensor:
    """On-cells per pitch class, float64 ``(N, 12, tracks)``: each cell is one time step of one
    pitch, so a note counts by its length. Pitch index = MIDI number; class 0 = C."""
    per_pitch = on.sum(dim=(1, 2), dtype=torch.float64)  # (N, pitches, tracks)
    n, pitches, tracks = per_pitch.shape
    padded = torch.zeros(n, N_OCTAVES * SEMITONES_PER_OCTAVE, tracks, dtype=torch.float64)
    padded[:, :pitches] = per_pitch
    return padded.reshape(n, N_OCTAVES, SEMITONES_PER_OCTAVE, tracks).sum(dim=1)


def _key_profiles() -> torch.Tensor:
    """The 12 major then the 12 minor key profiles, rows ``(24, 12)``: row ``k`` (``12 + k``) is
    the major (minor) key on tonic ``k``, each standardised to mean 0 and variance 1."""
    rows = [np.roll(profile, tonic) for profile in (MAJOR_PROFILE, MINOR_PROFILE) for tonic in range(12)]
    profiles = torch.tensor(np.array(rows), dtype=torch.float64)
    return (profiles - profiles.mean(dim=1, keepdim=True)) / profiles.std(dim=1, unbiased=False, keepdim=True)


def mode_score(histogram: torch.Tensor) -> torch.Tensor:
    """Major-minor score of pitch-class histograms ``(N, 12)``, float64 ``(N,)`` in [-2, 2].

    The Krumhansl-Schmuckler key finder: Pearson's r of the histogram with the 24 key profiles
    (:data:`MAJOR_PROFILE`, :data:`MINOR_PROFILE`, rotated to each tonic); the score is the best
    major key's r minus the best minor key's. Positive: sounds major. NaN for a silent phrase or a
    flat histogram.
    """
    centred = histogram.double() - histogram.double().mean(dim=1, keepdim=True)
    scale = centred.pow(2).mean(dim=1, keepdim=True).sqrt()
    standard = torch.where(scale > 0, centred / scale.clamp_min(1e-300), torch.full_like(centred, torch.nan))
    r = standard @ _key_profiles().t() / SEMITONES_PER_OCTAVE  # (N, 24)
    return r[:, :12].max(dim=1).values - r[:, 12:].max(dim=1).values


def _nan_where(mask: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, torch.full_like(values, torch.nan), values)


class PhraseDescriptor(Descriptor):
    """Phrase: mean pitch, note density (onsets per bar), mode (major - minor key fit), polyphony."""

    name = "phrase"
    sample_kind = "pianoroll"
    description = __doc__

    def describe(self, items: torch.Tensor) -> dict[str, torch.Tensor]:
        """For phrases ``(N, 4, 96, 128, 2)`` (binarised at :data:`ON_THRESHOLD`), float64 ``(N,)`` each:

        - ``mean-pitch``: mean MIDI number of the on-cells of all tracks (a note weighs by its
          length); NaN when silent;
        - ``note-density``: notes started per bar, all tracks together; a note is a run of
          on-steps of one pitch in one track along the phrase (held across a bar line: one note);
        - ``mode``: :func:`mode_score` of the pitch-class histogram of all tracks; NaN when silent;
        - ``polyphony``: time steps with at least 2 distinct pitches on (over all tracks) / time
          steps with at least 1; NaN when silent.
        """
        on = self._checked(items)
        n, bars, steps, pitches, tracks = on.shape
        cells = on.sum(dim=(1, 2, 4), dtype=torch.float64)  # (N, pitches): on-cells per pitch
        total = cells.sum(dim=1)  # (N,)
        silent = total == 0
        midi = torch.arange(pitches, dtype=torch.float64)
        mean_pitch = (cells * midi).sum(dim=1) / total.clamp_min(1)
        flat = on.reshape(n, bars * steps, pitches, tracks)  # the phrase as one time line
        starts = flat.clone()
        starts[:, 1:] &= ~flat[:, :-1]  # on now, off one step before (or the first step)
        density = starts.sum(dim=(1, 2, 3), dtype=torch.float64) / bars
        sounding = flat.any(dim=3).sum(dim=2)  # (N, time): distinct pitches on, over all tracks
        polyphony = (sounding >= 2).sum(dim=1, dtype=torch.float64) / (sounding >= 1).sum(dim=1).clamp_min(1)
        return {
            "mean-pitch": _nan_where(silent, mean_pitch),
            "note-density": density,
            "mode": mode_score(pitch_class_histogram(on).sum(dim=2)),
            "polyphony": _nan_where(silent, polyphony),
        }

    def features(self, items: torch.Tensor) -> torch.Tensor:
        """Float64 ``(N, 4 + 12 x tracks + 11)``: the four :meth:`describe` values; each track's
        pitch-class histogram as shares of its on-cells (12 per track, 0 for a silent track); and
        the octave histogram of all tracks (C-1 ... C9, shares of the on-cells)."""
        on = self._checked(items)
        values = torch.stack(list(self.describe(on).values()), dim=1)  # (N, 4)
        classes = pitch_class_histogram(on)  # (N, 12, tracks)
        classes = classes / classes.sum(dim=1, keepdim=True).clamp_min(1)
        per_pitch = on.sum(dim=(1, 2, 4), dtype=torch.float64)  # (N, pitches)
        octaves = torch.zeros(on.shape[0], N_OCTAVES * SEMITONES_PER_OCTAVE, dtype=torch.float64)
        octaves[:, :per_pitch.shape[1]] = per_pitch
        octaves = octaves.reshape(on.shape[0], N_OCTAVES, SEMITONES_PER_OCTAVE).sum(dim=2)
        octaves = octaves / octaves.sum(dim=1, keepdim=True).clamp_min(1)
        return torch.cat([values, classes.transpose(1, 2).flatten(1), octaves], dim=1)

    def _checked(self, items: torch.Tensor) -> torch.Tensor:
        check_shape(self, "items", items, (None, *PHRASE_SHAPE))
        return _on(items.detach().cpu())
