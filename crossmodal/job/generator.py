"""The conditional generator: one encoder, one temporal source and one decoder per track.

``G(i, z) = Gbar(concat(F(i), Gtemporal(z)))``: the condition's feature vector is repeated for
every segment and joined to that segment's temporal vector; each track's decoder turns the joined
code into one segment of its track, and the segments and tracks are stacked into a sample. A
conditioned temporal source (``uses_feature = True``) computes ``Gtemporal(z, F(i))`` instead, so
a trunk shared by all tracks can depend on the condition.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from crossmodal.errors import RecipeError
from crossmodal.contract.interfaces import Decoder, Encoder, TemporalSource, check_shape

__all__ = ["ConditionalGenerator"]


class ConditionalGenerator(nn.Module):
    """Generates samples ``(B, n_segments, *segment_shape, n_tracks)`` from conditions and noise.

    :param encoder: condition ``(B, *condition_shape)`` -> feature ``(B, F)``.
    :param temporal: noise ``(B, noise_dim)`` -> per-segment vectors ``(B, S, T)``; called with
        the feature ``(B, F)`` as well when it sets ``uses_feature = True``.
    :param decoders: one per track; each maps ``(B*S, F+T)`` -> ``(B*S, *segment_shape)``.
    :raises RecipeError: when the decoders' ``input_dim`` is not ``F + T``, the decoders
        disagree on ``segment_shape``, or a conditioned temporal source's ``feature_dim`` is not
        ``F`` (the message names the components and the sizes).

    Attributes: ``condition_shape``, ``noise_dim``, ``n_segments``, ``segment_shape``,
    ``n_tracks`` and ``sample_shape = (n_segments, *segment_shape, n_tracks)``.
    """

    def __init__(self, encoder: Encoder, temporal: TemporalSource, decoders: Sequence[Decoder]) -> None:
        super().__init__()
        if not decoders:
            raise RecipeError("a generator needs at least one decoder (one per track), got none")
        if temporal.uses_feature:
            takes = getattr(temporal, "feature_dim", None)
            if takes is None or int(takes) != int(encoder.feature_dim):
                raise RecipeError(
                    f"temporal source {type(temporal).__name__} uses the feature and takes "
                    f"feature_dim={takes}, but encoder {type(encoder).__name__} gives "
                    f"feature_dim={encoder.feature_dim}"
                )
        code_dim = int(encoder.feature_dim) + int(temporal.temporal_dim)
        for track, decoder in enumerate(decoders):
            if int(decoder.input_dim) != code_dim:
                raise RecipeError(
                    f"decoder {type(decoder).__name__} (track {track}) takes input_dim="
                    f"{decoder.input_dim}, but encoder {type(encoder).__name__} gives feature_dim="
                    f"{encoder.feature_dim} and temporal source {type(temporal).__name__} gives "
                    f"temporal_dim={temporal.temporal_dim}, so the decoder input is {code_dim}"
                )
        segment_shape = tuple(int(s) for s in decoders[0].segment_shape)
        for track, decoder in enumerate(decoders[1:], start=1):
            if tuple(decoder.segment_shape) != segment_shape:
                raise RecipeError(
                    f"decoders disagree on segment_shape: {type(decoders[0]).__name__} (track 0) "
                    f"makes {segment_shape}, {type(decoder).__name__} (track {track}) makes "
                    f"{tuple(decoder.segment_shape)}"
                )
        self.encoder = encoder
        self.temporal = temporal
        self.decoders = nn.ModuleList(decoders)
        self.condition_shape = tuple(int(s) for s in encoder.condition_shape)
        self.feature_dim = int(encoder.feature_dim)
        self.temporal_dim = int(temporal.temporal_dim)
        self.noise_dim = int(temporal.noise_dim)
        self.n_segments = int(temporal.n_segments)
        self.segment_shape = segment_shape
        self.n_tracks = len(decoders)
        self.sample_shape = (self.n_segments, *segment_shape, self.n_tracks)

    def forward(self, condition: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Generate one sample per (condition, noise) pair.

        :param condition: float ``(B, *condition_shape)``.
        :param noise: float ``(B, noise_dim)``, standard normal (see :meth:`sample_noise`).
        :returns: float ``(B, n_segments, *segment_shape, n_tracks)``, in the decoders' range.
        """
        batch = condition.shape[0]
        feature = self.encoder(condition)  # (B, F)
        check_shape(self.encoder, "feature", feature, (batch, self.feature_dim))
        if self.temporal.uses_feature:
            temporal = self.temporal(noise, feature)  # (B, S, T), conditioned on the feature
        else:
            temporal = self.temporal(noise)  # (B, S, T)
        check_shape(self.temporal, "output", temporal, (batch, self.n_segments, self.temporal_dim))
        feature = feature.unsqueeze(1).expand(batch, self.n_segments, self.feature_dim)  # (B, S, F)
        code = torch.cat([feature, temporal.to(feature.dtype)], dim=-1)  # (B, S, F+T)
        code = code.reshape(batch * self.n_segments, self.feature_dim + self.temporal_dim)  # (B*S, F+T)
        tracks = [
            decoder(code).reshape(batch, self.n_segments, *self.segment_shape)  # (B, S, *segment)
            for decoder in self.decoders
        ]
        return torch.stack(tracks, dim=-1)  # (B, S, *segment, n_tracks)

    @torch.no_grad()
    def generate(
        self, conditions: torch.Tensor, samples_per_condition: int = 1, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Generate ``samples_per_condition`` samples per condition, in evaluation mode.

        :param conditions: float ``(B, *condition_shape)`` on the model's device.
        :param generator: RNG for the noise (see :meth:`sample_noise`).
        :returns: float ``(B, samples_per_condition, *sample_shape)``.
        """
        was_training = self.training
        self.eval()
        try:
            batch = conditions.shape[0]
            noise = self.sample_noise(batch * samples_per_condition, generator, conditions.device)
            repeated = conditions.repeat_interleave(samples_per_condition, dim=0)  # (B*k, *condition_shape)
            samples = self(repeated, noise)  # (B*k, *sample_shape)
        finally:
            self.train(was_training)
        return samples.reshape(batch, samples_per_condition, *self.sample_shape)

    def sample_noise(
        self,
        batch: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Standard normal noise ``(batch, noise_dim)``, float32.

        Drawn on ``generator``'s device (the global RNG when ``None``) and moved to ``device``,
        so a CPU generator gives the same noise whatever device the model runs on.
        """
        source = generator.device if generator is not None else None
        noise = torch.randn(batch, self.noise_dim, generator=generator, device=source)
        return noise if device is None else noise.to(device, non_blocking=True)
