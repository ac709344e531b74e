"""Generated phrases written by the writer read back as exactly those phrases, and evaluate so."""

from __future__ import annotations

import json

import mido
import pytest
import torch
from click.testing import CliRunner

from crossmodal.cli import make_cli
from crossmodal.evaluation.sets import matching_evaluators
from crossmodal.contract.plugins import load_plugins
from crossmodal.storage.skips import SkipFile
from jukepix.constants import PHRASE_SHAPE, STEPS_PER_BAR
from jukepix.datasets import phrase_dataset
from jukepix.midi_reader import open_midi
from jukepix.prepare import midi_phrases
from jukepix.writer import PianoRollWriter
from jukepix.written import phrase_marker, written_phrases


def generated_phrases() -> torch.Tensor:
    """``(4, 4, 96, 128, 2)`` probabilities: silent, one track empty, very sparse, fuller."""
    phrases = torch.full((4, *PHRASE_SHAPE), 0.2)  # phrase 0: silent in both tracks
    phrases[1, :, 0:24, 60, 0] = 0.9  # phrase 1: one note per bar in track 1, track 2 empty
    phrases[1, :, 30:33, 64, 0] = 0.7  # a 3-step note
    phrases[1, :, 34:40, 64, 0] = 0.7  # the same pitch again after a one-step rest
    phrases[2, 2, 10:11, 72, 1] = 0.8  # phrase 2: one 1-step note in bar 3 of track 2 only
    generator = torch.Generator().manual_seed(3)
    phrases[3] = torch.rand(PHRASE_SHAPE, generator=generator) * 0.56  # phrase 3: sparse noise everywhere
    flat = phrases[3].reshape(-1, *PHRASE_SHAPE[2:])
    flat[::STEPS_PER_BAR // 2, 48:84:5, :] = 0.95  # and some notes of one step
    return phrases


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generated")
    phrases = generated_phrases()
    PianoRollWriter().write(phrases, folder, "painting")
    return folder, phrases


def test_the_writer_marks_its_files(written):
    folder, _ = written
    midi = mido.MidiFile(folder / "painting-0.mid")
    assert [m.text for m in midi.tracks[0] if m.type == "text"] == [phrase_marker()]


def test_written_files_read_back_as_exactly_the_phrases_written(written):
    folder, phrases = written
    for index in range(len(phrases)):
        read, firsts = midi_phrases(folder / f"painting-{index}.mid", "melody-chords", "structural")
        assert firsts == [0]
        assert torch.equal(torch.from_numpy(read[0]), phrases[index] > 0.5), index


def test_the_phrase_dataset_keeps_every_written_phrase_in_order(written):
    folder, phrases = written
    dataset = phrase_dataset(folder, jobs=1)
    assert len(dataset) == len(phrases) and not dataset.skipped
    assert torch.equal(dataset.batch(torch.arange(len(phrases))), (phrases > 0.5).float())


def test_an_unmarked_file_is_read_as_other_music(tmp_path):
    midi = mido.MidiFile(type=1)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("text", text="some other text")]))
    assert written_phrases(midi) is None


def test_a_marked_file_that_does_not_hold_what_it_says_is_skipped_with_the_reason(tmp_path):
    midi = mido.MidiFile(type=1)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("text", text=phrase_marker())]))
    midi.tracks.append(mido.MidiTrack())
    midi.save(tmp_path / "one-track.mid")
    with pytest.raises(SkipFile, match="holds 1 track"):
        written_phrases(open_midi(tmp_path / "one-track.mid"))


def test_evaluating_the_written_folder_equals_the_metrics_of_the_tensors(written, monkeypatch):
    folder, phrases = written
    monkeypatch.delenv("CROSSMODAL_LOAD_PLUGINS", raising=False)
    registry = load_plugins().registry  # jukepix depends on the evaluators plugin: never skipped
    result = CliRunner().invoke(
        make_cli(), ["evaluate", str(folder), "--dataset", "phrases", "-o", "jobs=1", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["samples"] == {"value": len(phrases)} and document["skipped"] == {"value": []}
    expected = {}
    for evaluator in matching_evaluators(registry, "pianoroll"):
        expected.update({name: value.tolist() for name, value in evaluator((phrases > 0.5).float()).items()})
    metrics = document["metrics"]["value"]
    assert metrics.keys() == expected.keys()
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, nan_ok=True), name
    # EB per track: track 1 empty in phrases 0 and 2 (8 of 16 bars), track 2 in phrases 0, 1 and most of 2
    assert metrics["eb"] == pytest.approx(
        evaluator_value(registry, "eb", phrases), nan_ok=True
    )
    assert metrics["eb"][0] == pytest.approx(8 / 16) and metrics["eb"][1] == pytest.approx(11 / 16)


def evaluator_value(registry, name, phrases):
    (evaluator,) = matching_evaluators(registry, "pianoroll", [name])
    return evaluator((phrases > 0.5).float())[name].tolist()


def test_a_silent_generated_phrase_evaluates_with_every_bar_empty(written, monkeypatch):
    folder, _ = written
    monkeypatch.delenv("CROSSMODAL_LOAD_PLUGINS", raising=False)
    result = CliRunner().invoke(
        make_cli(), ["evaluate", str(folder / "painting-0.mid"), "--dataset", "phrases", "--evaluator", "eb", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"]["value"]["eb"] == [1.0, 1.0]


def test_evaluate_with_a_reference_compares_the_sets_with_the_realism_evaluator(written, monkeypatch, tmp_path):
    from crossmodal_evaluators.realism import realism

    folder, phrases = written
    monkeypatch.delenv("CROSSMODAL_LOAD_PLUGINS", raising=False)
    reference = phrases.flip(0)  # the same four phrases, in another order: the same distributions
    PianoRollWriter().write(reference, tmp_path, "ref")
    result = CliRunner().invoke(make_cli(), ["evaluate", str(folder), "--reference", str(tmp_path),
                                             "--dataset", "phrases", "-o", "jobs=1", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    expected = realism((phrases > 0.5).float(), (reference > 0.5).float(), groups=[i >= 2 for i in range(4)])
    value = document["metrics"]["value"]
    assert value["realism"] == pytest.approx(expected.realism) and value["realism"] == pytest.approx(1.0)
    assert value["realism-ceiling"] == pytest.approx(expected.ceiling)
    assert all(v != v for v in [document["metrics"]["reference"]["realism"]])  # NaN: the reference's own column
    table = CliRunner().invoke(make_cli(), ["evaluate", str(folder), "-o", "jobs=1", "--dataset", "phrases"])
    assert table.exit_code == 0 and "realism" not in table.stdout  # no reference: left out
