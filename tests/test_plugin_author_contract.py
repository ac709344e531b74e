"""What a plugin author relies on without reading the core (docs/plugin-guide.md, "What the core
does with your components"): recipes naming other plugins' entries and ``Recipe.needs``; the
encoder trained by the generator's optimiser; evaluation mode while evaluating and generating;
the decoder's row order; ``generate``'s file names; the decoder range checked at build time.
"""

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import (  # noqa: E402
    ComponentSpec,
    Decoder,
    Encoder,
    Recipe,
    RecipeError,
    TemporalSource,
    TrainConfig,
    Trainer,
    UnknownComponentError,
    hookimpl,
    load_plugins,
)
from crossmodal.job.build import build_job  # noqa: E402
from crossmodal.cli import make_cli  # noqa: E402
from crossmodal.job.generator import ConditionalGenerator  # noqa: E402
from crossmodal.storage.runs import seed_everything  # noqa: E402


def tutorial_recipe(**changes) -> Recipe:
    """A recipe of plugin ``tutorial`` that trains another plugin's (the toy plugin's) networks."""
    fields = dict(
        name="musegan-tutorial",
        encoder=ComponentSpec("toy-encoder"),
        temporal=ComponentSpec("toy-temporal"),
        decoder=ComponentSpec("toy-decoder"),
        critic=ComponentSpec("toy-critic"),
        conditions=ComponentSpec("toy-conditions"),
        targets=ComponentSpec("toy-targets"),
        n_tracks=toy_plugin.N_TRACKS,
        evaluators=("toy-mean",),
        writer=ComponentSpec("toy-writer"),
        training=dict(toy_plugin.TOY_TRAINING),
    )
    fields.update(changes)
    return Recipe(**fields)


def plugin(name: str, *entries: tuple) -> types.ModuleType:
    """A plugin module registering ``(kind, name, factory)`` entries."""
    module = types.ModuleType(name)

    @hookimpl
    def crossmodal_register_components(register):
        for entry in entries:
            register(*entry)

    module.crossmodal_register_components = crossmodal_register_components
    return module


def tutorial(**changes) -> types.ModuleType:
    return plugin("tutorial", ("recipe", "musegan-tutorial", lambda: tutorial_recipe(**changes)))


def registry_of(*plugins):
    return load_plugins(extra=list(plugins), allow=[], strict=True).registry


def invoke(*args, plugins=()):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
        return CliRunner().invoke(make_cli(extra_plugins=list(plugins)), [str(a) for a in args])


def run_dir_of(result) -> Path:
    line = next(line for line in result.stdout.splitlines() if line.startswith("run: "))
    return Path(line[len("run: "):])


# -------------------------------------------------------------------------------------------
# 1. A recipe may name other plugins' entries, and declare the plugins it needs


def test_a_recipe_may_name_another_plugins_components():
    registry = registry_of(("toy", toy_plugin), ("tutorial", tutorial()))
    job = build_job(registry, "musegan-tutorial")
    assert registry.get("recipe", "musegan-tutorial").plugin == "tutorial"
    assert registry.get("encoder", "toy-encoder").plugin == "toy"
    assert job.generator.sample_shape == (2, 6, 2)


def test_a_needed_plugin_that_is_loaded_builds():
    registry = registry_of(("toy", toy_plugin), ("tutorial", tutorial(needs=("toy",))))
    assert build_job(registry, "musegan-tutorial").recipe.needs == ("toy",)


def test_a_needed_plugin_that_is_not_loaded_is_one_line_before_anything_is_built():
    built = []

    def counting_conditions(source=None, **options):
        built.append(source)
        return toy_plugin.ToyConditions(source, **options)

    registry = registry_of(
        ("toy", toy_plugin), ("tutorial", tutorial(needs=("jukepix",))),
        ("counting", plugin("counting", ("sample-set", "counting-conditions", counting_conditions))),
    )
    recipe = tutorial_recipe(needs=("jukepix",), conditions=ComponentSpec("counting-conditions"))
    with pytest.raises(RecipeError) as info:
        build_job(registry, recipe)
    message = str(info.value)
    assert message.startswith("recipe 'musegan-tutorial' needs plugin 'jukepix' (not loaded)")
    assert "\n" not in message and built == []
    with pytest.raises(RecipeError, match=r"needs plugins 'jukepix' and 'palette' \(not loaded\)"):
        build_job(registry, tutorial_recipe(needs=("jukepix", "toy", "palette")))


def test_needs_must_be_a_tuple_of_names():
    registry = registry_of(("toy", toy_plugin))
    with pytest.raises(RecipeError, match=r"needs must be a tuple of plugin names.*not 'toy'"):
        build_job(registry, tutorial_recipe(needs="toy"))


def test_crossmodal_train_says_which_needed_plugin_is_missing(tmp_path):
    result = invoke("train", "--recipe", "musegan-tutorial", "--steps", 1, "--out", tmp_path,
                    plugins=[("tutorial", tutorial(needs=("jukepix",)))])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(
        "Error: recipe 'musegan-tutorial' needs plugin 'jukepix' (not loaded)")
    assert "no encoder named" not in result.stderr and not list(tmp_path.iterdir())


@pytest.mark.slow  # trains
def test_resuming_without_a_needed_plugin_says_which(tmp_path):
    result = invoke("train", "--recipe", "musegan-tutorial", "--steps", 1, "--out", tmp_path,
                    plugins=[("toy", toy_plugin), ("tutorial", tutorial(needs=("toy",)))])
    assert result.exit_code == 0, result.output
    result = invoke("train", "--resume", run_dir_of(result), "--steps", 2, plugins=[("tutorial", tutorial(needs=("toy",)))])
    assert result.exit_code == 1
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert error.startswith("Error: checkpoint ") and "(recipe 'musegan-tutorial') needs plugin 'toy' (not loaded)" in error


def test_an_unknown_component_names_the_recipes_plugin_and_a_missing_plugin():
    registry = registry_of(("tutorial", tutorial()))  # the toy plugin, whose networks it names, is not loaded
    with pytest.raises(UnknownComponentError) as info:
        build_job(registry, "musegan-tutorial")
    message = str(info.value)
    assert message.startswith("recipe 'musegan-tutorial' from plugin tutorial: no encoder named 'toy-encoder'.")
    assert "Known encoders: none" in message
    assert "may belong to a plugin that is not installed or not loaded" in message and "\n" not in message


def test_an_unknown_evaluator_is_refused_before_the_data_is_read():
    built = []

    def counting_targets(source=None, **options):
        built.append(source)
        return toy_plugin.ToyTargets(source, **options)

    registry = registry_of(("toy", toy_plugin), ("counting", plugin("counting", ("sample-set", "counted", counting_targets))))
    recipe = tutorial_recipe(name="toy", targets=ComponentSpec("counted"), evaluators=("eb",))
    with pytest.raises(UnknownComponentError, match=r"recipe 'toy' from plugin toy: no evaluator named 'eb'.*"
                                                    r"evaluator may belong to a plugin that is not installed"):
        build_job(registry, recipe)
    assert built == []


@pytest.mark.slow  # trains
def test_a_checkpoints_component_whose_plugin_is_missing_names_the_checkpoint(tmp_path):
    run = run_dir_of(invoke("train", "--plugin", "toy", "--steps", 1, "--out", tmp_path, plugins=[("toy", toy_plugin)]))
    condition = tmp_path / "c.txt"
    np.savetxt(condition, np.zeros(8))
    result = invoke("generate", "--checkpoint", run, "--condition", condition, plugins=[])
    assert result.exit_code == 1
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert error.startswith("Error: checkpoint ") and "no sample-writer named 'toy-writer'" in error
    assert error.endswith("The sample-writer may belong to a plugin that is not installed or not loaded.")


# -------------------------------------------------------------------------------------------
# 2. The encoder is part of the generator and trained by the generator's Adam


def make_trainer(recipe=None, registry=None, run_dir=None, **changes):
    seed_everything(0)
    recipe = recipe or toy_plugin.toy_recipe()
    job = build_job(registry or toy_plugin.toy_registry(), recipe)
    config = TrainConfig().merged(recipe.training, "test").merged(changes, "test")
    return Trainer(job, config, run_dir, plugin_versions={"toy": "0.0"})


def parameter_ids(module):
    return {id(p) for p in module.parameters()}


def optimised_ids(optimizer):
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


def test_the_encoder_is_trained_by_the_generators_optimizer_only():
    trainer = make_trainer()
    encoder = trainer.generator.encoder
    assert parameter_ids(encoder) and parameter_ids(encoder) <= optimised_ids(trainer.generator_optimizer)
    assert not parameter_ids(encoder) & optimised_ids(trainer.critic_optimizer)
    assert all(p.requires_grad for p in encoder.parameters())

    before = [p.detach().clone() for p in encoder.parameters()]
    trainer.critic_step()  # the critic's update sees generated samples without gradient
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters()))
    trainer.generator_step()
    assert all(not torch.equal(a, b) for a, b in zip(before, encoder.parameters()))


class FrozenEncoder(toy_plugin.ToyEncoder):
    """A fixed feature extractor: its factory turns its gradients off."""

    def __init__(self) -> None:
        super().__init__()
        self.requires_grad_(False)


def test_an_encoder_without_gradients_stays_fixed():
    registry = registry_of(("toy", toy_plugin), ("frozen", plugin("frozen", ("encoder", "frozen", FrozenEncoder))))
    trainer = make_trainer(tutorial_recipe(name="toy", encoder=ComponentSpec("frozen")), registry)
    encoder, decoder = trainer.generator.encoder, trainer.generator.decoders[0]
    before = [p.detach().clone() for p in (*encoder.parameters(), *decoder.parameters())]
    trainer.generator_step()
    after = [*encoder.parameters(), *decoder.parameters()]
    n = len(list(encoder.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(before[:n], after[:n]))
    assert any(not torch.equal(a, b) for a, b in zip(before[n:], after[n:]))


# -------------------------------------------------------------------------------------------
# 3. Evaluation, written samples, `generate` and `evaluate --checkpoint` run in evaluation mode

MODES: list[bool] = []
"""``self.training`` of every :class:`ProbeDecoder` forward call, in order."""


class ProbeDecoder(Decoder):
    """The toy decoder with BatchNorm and Dropout, recording the mode it runs in."""

    def __init__(self, input_dim: int = toy_plugin.FEATURE_DIM + toy_plugin.TEMPORAL_DIM,
                 steps: int = toy_plugin.SEGMENT_STEPS) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.segment_shape = (steps,)
        self.net = nn.Sequential(nn.Linear(input_dim, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5),
                                 nn.Linear(16, steps), nn.Sigmoid())

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        MODES.append(self.training)
        return self.net(code)


def probe_recipe() -> Recipe:
    return tutorial_recipe(name="probe", decoder=ComponentSpec("probe-decoder"), needs=("toy",))


PROBE = plugin("probe", ("decoder", "probe-decoder", ProbeDecoder), ("recipe", "probe", probe_recipe))
PLUGINS = [("toy", toy_plugin), ("probe", PROBE)]


def test_evaluation_and_written_samples_run_in_evaluation_mode(tmp_path):
    trainer = make_trainer(probe_recipe(), registry_of(*PLUGINS), tmp_path / "run")
    trainer.open()
    try:
        MODES.clear()
        trainer.generator_step()
        assert MODES and all(MODES)  # training: BatchNorm batch statistics, Dropout on
        for phase in (trainer.evaluate, trainer.write_samples):
            MODES.clear()
            assert phase()
            assert MODES and not any(MODES), phase.__name__
            assert trainer.generator.training  # back to training mode afterwards
    finally:
        trainer.close()


@pytest.mark.slow  # trains
def test_generate_and_evaluate_checkpoint_run_in_evaluation_mode(tmp_path):
    result = invoke("train", "--plugin", "probe", "--steps", 2, "--out", tmp_path / "runs", plugins=PLUGINS)
    assert result.exit_code == 0, result.output
    run = run_dir_of(result)
    condition = tmp_path / "c.txt"
    np.savetxt(condition, np.linspace(-1, 1, 8))
    MODES.clear()
    result = invoke("generate", "--checkpoint", run, "--condition", condition, "--samples", 3,
                    "--out", tmp_path / "out", plugins=PLUGINS)
    assert result.exit_code == 0, result.output
    assert MODES and not any(MODES)
    MODES.clear()
    result = invoke("evaluate", "--checkpoint", run, "--samples", 4, plugins=PLUGINS)
    assert result.exit_code == 0, result.output
    assert MODES and not any(MODES)


# -------------------------------------------------------------------------------------------
# 4. and 5. The decoder's rows, and the generator's attributes


class ConditionAsFeature(Encoder):
    condition_shape = (1,)
    feature_dim = 1

    def forward(self, condition):
        return condition  # (B, 1): the feature is the condition itself


class SegmentNumber(TemporalSource):
    noise_dim, n_segments, temporal_dim = 1, 3, 1

    def forward(self, noise):
        return torch.arange(self.n_segments, dtype=noise.dtype).expand(noise.shape[0], -1)[..., None]  # (B, S, 1)


class Recorder(Decoder):
    input_dim, segment_shape = 2, (2,)

    def forward(self, code):
        self.seen = code  # (B*S, 2)
        return code / 10  # segment = its own code, in [0, 1]


def test_decoder_rows_are_batch_major_then_segment():
    generator = ConditionalGenerator(ConditionAsFeature(), SegmentNumber(), [Recorder()])
    conditions = torch.tensor([[7.0], [8.0]])  # B = 2
    samples = generator(conditions, torch.zeros(2, 1))  # (2, 3, 2, 1)
    rows = generator.decoders[0].seen.tolist()
    assert rows == [[7, 0], [7, 1], [7, 2], [8, 0], [8, 1], [8, 2]]  # row b * S + s = [feature_b, vector_s]
    for b in range(2):
        for s in range(3):
            assert samples[b, s, :, 0].tolist() == pytest.approx([v / 10 for v in rows[b * 3 + s]])


def test_the_generator_attributes_plugin_authors_use():
    generator = make_trainer().generator
    assert [name for name, _ in generator.named_children()] == ["encoder", "temporal", "decoders"]
    assert isinstance(generator.decoders, nn.ModuleList) and len(generator.decoders) == generator.n_tracks == 2
    assert {key.split(".")[0] for key in generator.state_dict()} == {"encoder", "temporal", "decoders"}
    assert (generator.condition_shape, generator.feature_dim, generator.temporal_dim, generator.noise_dim,
            generator.n_segments, generator.segment_shape, generator.sample_shape) == ((8,), 4, 2, 3, 2, (6,), (2, 6, 2))


# -------------------------------------------------------------------------------------------
# 6. `generate` names the files of a condition file that holds several items


def test_generate_numbers_the_items_of_a_condition_file_then_the_samples(tmp_path):
    run = run_dir_of(invoke("train", "--plugin", "toy", "--steps", 1, "--out", tmp_path / "runs",
                            plugins=[("toy", toy_plugin)]))
    folder = tmp_path / "pair"  # one "condition file" that the toy conditions dataset reads as 2 items
    folder.mkdir()
    np.savetxt(folder / "a.txt", np.full(8, -0.5))
    np.savetxt(folder / "b.txt", np.full(8, 0.5))
    result = invoke("generate", "--checkpoint", run, "--condition", folder, "--samples", 2, "--out", tmp_path / "out",
                    plugins=[("toy", toy_plugin)])
    assert result.exit_code == 0, result.output
    names = [Path(line).name for line in result.stdout.splitlines()]
    assert names == ["pair-0-0.npy", "pair-0-0.txt", "pair-0-1.npy", "pair-0-1.txt",
                     "pair-1-0.npy", "pair-1-0.txt", "pair-1-1.npy", "pair-1-1.txt"]


# -------------------------------------------------------------------------------------------
# 7. A decoder's values must lie in [0, 1]: checked when the recipe is built


class TanhDecoder(toy_plugin.ToyDecoder):
    """The toy decoder ending in tanh: values in (-1, 1)."""

    def forward(self, code):
        return torch.tanh(self.net[:-1](code))


class NaNDecoder(toy_plugin.ToyDecoder):
    def forward(self, code):
        return self.net(code) * float("nan")


class FailingDecoder(toy_plugin.ToyDecoder):
    def forward(self, code):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied\nsecond line")


BAD_DECODERS = plugin("bad", ("decoder", "tanh-decoder", TanhDecoder), ("decoder", "nan-decoder", NaNDecoder),
                      ("decoder", "failing-decoder", FailingDecoder))


@pytest.mark.parametrize("decoder, message", [
    ("tanh-decoder", r"^recipe 'toy': decoder 'tanh-decoder' \(TanhDecoder\) gives values in \[-0\.\d+, 0\.\d+\] "
                     r"on 2 items of conditions dataset 'toy-conditions'; a decoder's output must lie in \[0, 1\]"),
    ("nan-decoder", r"^recipe 'toy': decoder 'nan-decoder' \(NaNDecoder\) gives NaN or infinite values"),
    ("failing-decoder", r"^recipe 'toy': the generator failed on 2 items of conditions dataset 'toy-conditions' "
                        r"\(RuntimeError: mat1 and mat2 shapes cannot be multiplied\)$"),
])
def test_a_decoder_outside_0_1_is_refused_when_the_recipe_is_built(decoder, message):
    registry = registry_of(("toy", toy_plugin), ("bad", BAD_DECODERS))
    recipe = tutorial_recipe(name="toy", decoder=ComponentSpec(decoder))
    with pytest.raises(RecipeError, match=message) as info:
        build_job(registry, recipe)
    assert "\n" not in str(info.value)


def test_crossmodal_train_refuses_a_tanh_decoder_in_one_line(tmp_path):
    recipe = plugin("tanh", ("decoder", "tanh-decoder", TanhDecoder),
                    ("recipe", "tanh", lambda: tutorial_recipe(name="tanh", decoder=ComponentSpec("tanh-decoder"))))
    result = invoke("train", "--plugin", "tanh", "--steps", 1, "--out", tmp_path, plugins=[("toy", toy_plugin), ("tanh", recipe)])
    assert result.exit_code == 1
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert error.startswith("Error: recipe 'tanh': decoder 'tanh-decoder' (TanhDecoder) gives values in [-")


def test_the_range_check_changes_no_weight_buffer_mode_or_random_stream():
    registry = registry_of(*PLUGINS)
    torch.manual_seed(3)
    job = build_job(registry, probe_recipe())
    after_build = torch.rand(4)
    torch.manual_seed(3)
    from crossmodal.job import build as build_module

    real = build_module.check_sample_range
    try:
        build_module.check_sample_range = lambda *args, **kwargs: None
        unchecked = build_job(registry, probe_recipe())
    finally:
        build_module.check_sample_range = real
    assert torch.equal(after_build, torch.rand(4))  # the same draws follow, checked or not
    for (name, a), (_, b) in zip(job.generator.state_dict().items(), unchecked.generator.state_dict().items()):
        assert torch.equal(a, b), name  # weights and BatchNorm running statistics untouched
    assert job.generator.training
