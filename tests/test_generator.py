"""ConditionalGenerator: output layout, feature broadcasting, noise, and size checks."""

import sys
from pathlib import Path

import pytest
import torch

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import RecipeError  # noqa: E402
from crossmodal.job.generator import ConditionalGenerator  # noqa: E402


def make(n_tracks=2, **decoder_options):
    torch.manual_seed(0)
    decoders = [toy_plugin.ToyDecoder(**decoder_options) for _ in range(n_tracks)]
    return ConditionalGenerator(toy_plugin.ToyEncoder(), toy_plugin.ToyTemporal(), decoders)


def test_output_is_batch_segments_segment_tracks():
    generator = make(n_tracks=3)
    noise = generator.sample_noise(5)
    out = generator(torch.randn(5, 8), noise)
    assert out.shape == (5, 2, 6, 3)
    assert generator.sample_shape == (2, 6, 3)
    assert generator.condition_shape == (8,) and generator.noise_dim == 3


def test_tracks_are_stacked_in_decoder_order_on_the_last_axis():
    generator = make(n_tracks=2)
    condition, noise = torch.randn(4, 8), torch.randn(4, 3)
    out = generator(condition, noise)
    feature = generator.encoder(condition)  # (4, F)
    temporal = generator.temporal(noise)  # (4, 2, T)
    code = torch.cat([feature[:, None].expand(4, 2, 4), temporal], -1).reshape(8, 6)
    for track in range(2):
        expected = generator.decoders[track](code).reshape(4, 2, 6)
        torch.testing.assert_close(out[..., track], expected)


def test_feature_is_shared_by_every_segment():
    generator = make()
    with torch.no_grad():
        for p in generator.temporal.parameters():
            p.zero_()  # temporal vectors all zero: segments then differ only through it
    out = generator(torch.randn(3, 8), torch.randn(3, 3))
    torch.testing.assert_close(out[:, 0], out[:, 1])


@pytest.mark.parametrize("temporal, changes", [(toy_plugin.ToyConditionedTemporal, True), (toy_plugin.ToyTemporal, False)])
def test_a_conditioned_temporal_source_carries_the_condition(temporal, changes):
    """With decoders blind to the feature, only a conditioned source lets the condition through."""
    torch.manual_seed(0)
    decoders = [toy_plugin.ToyDecoder() for _ in range(2)]
    with torch.no_grad():
        for decoder in decoders:
            decoder.net[0].weight[:, : toy_plugin.FEATURE_DIM].zero_()  # ignore the feature part of the code
    generator = ConditionalGenerator(toy_plugin.ToyEncoder(), temporal(), decoders)
    conditions = torch.randn(2, 8)  # two different conditions
    noise = torch.randn(1, 3).expand(2, 3)  # the same noise for both
    out = generator(conditions, noise)  # (2, 2, 6, 2)
    assert out.shape == (2, 2, 6, 2)
    assert (not torch.allclose(out[0], out[1])) is changes


def test_conditioned_temporal_source_must_take_the_encoders_feature_size():
    temporal = toy_plugin.ToyConditionedTemporal(feature_dim=5)
    with pytest.raises(RecipeError, match=r"ToyConditionedTemporal uses the feature and takes feature_dim=5, "
                                          r"but encoder ToyEncoder gives feature_dim=4"):
        ConditionalGenerator(toy_plugin.ToyEncoder(), temporal, [toy_plugin.ToyDecoder()])


def test_sample_noise_is_reproducible_with_a_generator():
    generator = make()
    a = generator.sample_noise(4, torch.Generator().manual_seed(3))
    b = generator.sample_noise(4, torch.Generator().manual_seed(3))
    assert a.shape == (4, 3) and a.dtype == torch.float32
    assert torch.equal(a, b)


def test_generate_gives_k_samples_per_condition_and_restores_training_mode():
    generator = make()
    generator.train()
    out = generator.generate(torch.randn(3, 8), samples_per_condition=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 4, 2, 6, 2)
    assert generator.training
    assert not torch.equal(out[:, 0], out[:, 1])  # different noise per sample


def test_decoder_input_size_mismatch_names_components_and_sizes():
    with pytest.raises(RecipeError) as info:
        ConditionalGenerator(toy_plugin.ToyEncoder(), toy_plugin.ToyTemporal(), [toy_plugin.ToyDecoder(input_dim=7)])
    message = str(info.value)
    for part in ("ToyDecoder", "ToyEncoder", "ToyTemporal", "input_dim=7", "feature_dim=4", "temporal_dim=2", "6"):
        assert part in message


def test_decoders_must_share_segment_shape():
    decoders = [toy_plugin.ToyDecoder(steps=6), toy_plugin.ToyDecoder(steps=5)]
    with pytest.raises(RecipeError, match=r"segment_shape.*\(6,\).*track 1.*\(5,\)"):
        ConditionalGenerator(toy_plugin.ToyEncoder(), toy_plugin.ToyTemporal(), decoders)


def test_no_decoder_is_refused():
    with pytest.raises(RecipeError, match="at least one decoder"):
        ConditionalGenerator(toy_plugin.ToyEncoder(), toy_plugin.ToyTemporal(), [])
