"""jukepix.audio: phrases written as MIDI are rendered to WAV files that sound like their notes.

Every property is checked on the built-in synth, and on FluidSynth where it is installed (those
cases skip, with the reason, where it is not): the WAV lasts the phrase at the file's tempo plus
the release tail, a note's spectrum peaks at its pitch's frequency, each note starts sounding at
its start, an empty phrase is silence, and nothing is overwritten. Then ``crossmodal generate
--render`` end to end on a tiny trained checkpoint.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from crossmodal import API_VERSION, ComponentSpec, hookimpl, load_plugins
from crossmodal.cli import make_cli
from crossmodal.training.launch import start_training
from jukepix import recipes
from jukepix.audio import RELEASE_SECONDS, SAMPLE_RATE, PianoRollRenderer
from jukepix.constants import (
    ACOUSTIC_GRAND_PIANO,
    BARS_PER_PHRASE,
    BEATS_PER_BAR,
    DEFAULT_TEMPO_QPM,
    PHRASE_SHAPE,
    SEMITONES_PER_OCTAVE,
    STEPS_PER_BAR,
    STEPS_PER_BEAT,
    STRING_ENSEMBLE,
)
from jukepix.writer import phrase_to_pretty_midi

QUARTER_SEMITONE = 2 ** (1 / (4 * SEMITONES_PER_OCTAVE))
"""Frequency ratio of a quarter of a semitone: a peak closer than this is at the note's pitch."""

ONSET_WINDOW_MS = (-1.5, 5.0)
"""Where, around a note's start (ms), its sound must first reach a tenth of its peak: at most a
1-ms analysis frame early, and within a few ms (a piano sample's attack)."""


@functools.cache
def _auto() -> PianoRollRenderer:
    return PianoRollRenderer()


@pytest.fixture(params=["builtin", "fluidsynth"])
def renderer(request) -> PianoRollRenderer:
    """Each engine; FluidSynth's cases skip where it is not installed."""
    if request.param == "fluidsynth" and _auto().soundfont is None:
        pytest.skip(f"FluidSynth is not installed here: {_auto().engine}")
    return PianoRollRenderer(synthesizer=request.param)


def _phrase(notes) -> torch.Tensor:
    """A ``(4, 96, 128, 2)`` phrase from ``(track, first step, steps, pitch)`` notes; steps count
    from the phrase's start at 24 per beat."""
    phrase = torch.zeros(PHRASE_SHAPE)
    rows = phrase.reshape(-1, *PHRASE_SHAPE[2:])  # (bars * steps, pitch, tracks), a view
    for track, first, steps, pitch in notes:
        rows[first:first + steps, pitch, track] = 1
    return phrase


def _midi(folder: Path, phrase: torch.Tensor, programs=(ACOUSTIC_GRAND_PIANO,) * 2, tempo=DEFAULT_TEMPO_QPM) -> Path:
    """The phrase's MIDI file as the writer makes it (without the PNG)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "phrase-0.mid"
    phrase_to_pretty_midi(phrase, programs, tempo_qpm=tempo).write(str(path))
    return path


def _read_wav(path: Path) -> np.ndarray:
    """Samples of a 16-bit mono WAV at :data:`SAMPLE_RATE`, as floats in [-1, 1]."""
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SAMPLE_RATE)
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2") / 32767


def _render(renderer: PianoRollRenderer, folder: Path, phrase: torch.Tensor, **midi_options) -> np.ndarray:
    (wav,) = renderer.render([_midi(folder, phrase, **midi_options)])
    assert wav == folder / "phrase-0.wav"
    return _read_wav(wav)


def _seconds(step: int, tempo: float = DEFAULT_TEMPO_QPM) -> float:
    return step / STEPS_PER_BEAT * 60 / tempo


def _peak_hz(audio: np.ndarray, start: float, stop: float) -> float:
    """The strongest frequency between ``start`` and ``stop`` seconds (Hann window)."""
    part = audio[round(start * SAMPLE_RATE):round(stop * SAMPLE_RATE)]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(part.size)))
    return float(np.fft.rfftfreq(part.size, 1 / SAMPLE_RATE)[spectrum.argmax()])


def _rms(audio: np.ndarray, start: float, stop: float) -> float:
    return float(np.sqrt(np.mean(audio[round(start * SAMPLE_RATE):round(stop * SAMPLE_RATE)] ** 2)))


@pytest.mark.parametrize("tempo", [DEFAULT_TEMPO_QPM, 75.0])
def test_the_wav_lasts_the_phrase_at_the_midi_tempo_plus_the_release_tail(renderer, tmp_path, tempo):
    phrase = _phrase([(0, 0, 12, 60), (1, 30, 6, 48)])  # notes in the first bar only: the phrase is 4 bars
    audio = _render(renderer, tmp_path, phrase, tempo=tempo)
    beats = BARS_PER_PHRASE * BEATS_PER_BAR
    assert audio.size == round((beats * 60 / tempo + RELEASE_SECONDS) * SAMPLE_RATE)
    assert np.abs(audio).max() > 0.5  # scaled to its peak level, not a whisper


@pytest.mark.parametrize("pitch", [45, 69, 84])  # A2 110 Hz, A4 440 Hz, C6 1046.5 Hz
def test_a_single_piano_note_peaks_at_its_pitch_frequency(renderer, tmp_path, pitch):
    audio = _render(renderer, tmp_path, _phrase([(0, 0, STEPS_PER_BAR, pitch)]))
    expected = 440 * 2 ** ((pitch - 69) / SEMITONES_PER_OCTAVE)
    assert 1 / QUARTER_SEMITONE < _peak_hz(audio, 0.2, 1.0) / expected < QUARTER_SEMITONE


def test_each_note_starts_sounding_at_its_start(renderer, tmp_path):
    notes = [(0, 0, 24, 60), (1, STEPS_PER_BAR + 12, 24, 48), (0, 2 * STEPS_PER_BAR + 30, 12, 67),
             (1, 3 * STEPS_PER_BAR + 50, 6, 72)]  # both tracks, on and off the beat, about 2.5 s apart
    audio = _render(renderer, tmp_path, _phrase(notes))
    frame = SAMPLE_RATE // 1000
    rms = np.sqrt(np.convolve(audio ** 2, np.ones(frame) / frame, mode="valid"))  # rms[i]: 1 ms from sample i
    for _, first, _, pitch in notes:
        start = round(_seconds(first) * SAMPLE_RATE)
        peak = rms[start:start + SAMPLE_RATE // 5].max()
        search = max(0, start - SAMPLE_RATE // 20)  # from 50 ms before: quiet there, or the onset is early
        onset = search + int(np.argmax(rms[search:] > peak / 10))
        assert ONSET_WINDOW_MS[0] <= (onset - start) / SAMPLE_RATE * 1000 <= ONSET_WINDOW_MS[1], pitch


def test_an_empty_phrase_is_silence(renderer, tmp_path):
    audio = _render(renderer, tmp_path, _phrase([]))
    assert audio.size == round((_seconds(BARS_PER_PHRASE * STEPS_PER_BAR) + RELEASE_SECONDS) * SAMPLE_RATE)
    assert not audio.any()


def test_the_builtin_piano_decays_and_its_strings_hold_at_their_pitch(tmp_path):
    whole_note = _phrase([(0, 0, STEPS_PER_BAR, 57), (1, 0, STEPS_PER_BAR, 57)])  # A3, 220 Hz, 2.4 s
    builtin = PianoRollRenderer(synthesizer="builtin")
    piano = _render(builtin, tmp_path / "piano", _phrase([(0, 0, STEPS_PER_BAR, 57)]))
    strings = _render(builtin, tmp_path / "strings", whole_note, programs=(STRING_ENSEMBLE, STRING_ENSEMBLE))
    assert _rms(piano, 2.0, 2.2) < 0.5 * _rms(piano, 0.1, 0.3)
    assert _rms(strings, 2.0, 2.2) > 0.9 * _rms(strings, 0.1, 0.3)
    assert 1 / QUARTER_SEMITONE < _peak_hz(strings, 0.2, 2.0) / 220 < QUARTER_SEMITONE


def test_render_writes_beside_the_midi_never_over_a_file_and_leaves_other_files(tmp_path):
    midi = _midi(tmp_path, _phrase([(0, 0, 24, 60)]))
    png = tmp_path / "phrase-0.png"
    png.write_bytes(b"a picture")
    (tmp_path / "phrase-0.wav").write_bytes(b"keep me")
    written = PianoRollRenderer(synthesizer="builtin").render([midi, png])
    assert written == [tmp_path / "phrase-0-2.wav"]
    assert (tmp_path / "phrase-0.wav").read_bytes() == b"keep me" and png.read_bytes() == b"a picture"
    assert _read_wav(written[0]).any()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "phrase-0-2.wav", "phrase-0.mid", "phrase-0.png", "phrase-0.wav"]


def test_without_fluidsynth_auto_falls_back_to_the_builtin_synth_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # import fluidsynth now fails
    auto = PianoRollRenderer()
    assert auto.soundfont is None and auto.engine.startswith("builtin additive synth (no FluidSynth: ")
    assert _render(auto, tmp_path, _phrase([(0, 0, 24, 60)])).any()
    with pytest.raises(ValueError, match="no FluidSynth: .*apt-get install fluidsynth fluid-soundfont-gm"):
        PianoRollRenderer(synthesizer="fluidsynth")


def test_bad_options_are_refused_naming_them(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="synthesizer must be one of auto, fluidsynth, builtin, got 'timidity'"):
        PianoRollRenderer(synthesizer="timidity")
    with pytest.raises(ValueError, match="sample_rate must be an integer from 8000 to 96000 Hz, got 4000"):
        PianoRollRenderer(sample_rate=4000)
    with pytest.raises(ValueError, match=r"soundfont .*missing\.sf2 is not a file"):
        PianoRollRenderer(soundfont=str(tmp_path / "missing.sf2"))
    monkeypatch.setenv("JUKEPIX_SOUNDFONT", str(tmp_path / "gone.sf2"))
    with pytest.raises(ValueError, match=r"\$JUKEPIX_SOUNDFONT .*gone\.sf2 is not a file"):
        PianoRollRenderer()
    assert PianoRollRenderer(synthesizer="builtin").engine == "builtin additive synth"  # no SoundFont needed


# -------------------------------------------------------------------------------------------
# crossmodal generate --render, end to end


class AudiblePlugin:
    """Registers ``jukepix-audible``: the dual-piano recipe, with the Jukepix renderer."""

    @hookimpl
    def crossmodal_api_version(self) -> int:
        return API_VERSION

    @hookimpl
    def crossmodal_register_components(self, register) -> None:
        register("recipe", "jukepix-audible", audible_recipe)


def audible_recipe():
    """The dual-piano recipe, rendering with ``pianoroll-audio`` (whether or not it names it yet)."""
    recipe = recipes.piano_hands()
    renderer = recipe.renderer or ComponentSpec("pianoroll-audio")
    return dataclasses.replace(recipe, name="jukepix-audible", renderer=renderer)


ONE_STEP = {"steps": 1, "batch_size": 2, "warmup_generator_steps": 1, "critic_updates_warmup": 1,
            "critic_updates": 1, "eval_every": 100, "eval_samples": 2, "write_samples": 0, "checkpoint_every": 1,
            "device": "cpu"}
"""One generator update with one critic update, no evaluation nor samples written: a checkpoint, fast."""

PAINTINGS = ("gallery__monet-impression-sunrise.jpg", "gallery__monet-haystacks.jpg")
PIANO_FILE = "midi/pianomidide__Beethoven__beethoven_les_adieux_2.mid"


@pytest.fixture(scope="module")
def audible_run(shared_data, tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    for name in PAINTINGS:
        shutil.copy(shared_data / "paintings" / name, data)
    registry = load_plugins(allow=["jukepix", "evaluators"], extra=[("audible", AudiblePlugin())], strict=True).registry
    trainer = start_training(registry, "jukepix-audible", condition_source=str(data),
                             target_source=str(shared_data / PIANO_FILE),
                             overrides={**ONE_STEP, "out_dir": str(tmp_path_factory.mktemp("runs"))})
    trainer.train()
    return trainer.run_dir


@pytest.mark.slow  # trains a Jukepix run (module fixture) then generates
def test_generate_audio_writes_mid_png_and_wav_under_one_name(audible_run, shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "jukepix,evaluators")
    out = tmp_path / "generated"

    def generate(seed: int):
        result = CliRunner().invoke(make_cli(extra_plugins=[("audible", AudiblePlugin())]), [
            "generate", "--checkpoint", str(audible_run), "--image", str(shared_data / "paintings" / PAINTINGS[0]),
            "--samples", "2", "--out", str(out), "--seed", str(seed), "--render",
        ])
        assert result.exit_code == 0, result.output
        assert f"renderer: {_auto().engine}" in result.stderr.splitlines()
        return [Path(line) for line in result.stdout.splitlines()]

    def names(number: str) -> list[str]:
        stem = Path(PAINTINGS[0]).stem
        return sorted(f"{stem}-{i}{number}.{suffix}" for i in (0, 1) for suffix in ("mid", "png", "wav"))

    first = generate(0)
    assert sorted(p.name for p in first) == names("")
    length = round((_seconds(BARS_PER_PHRASE * STEPS_PER_BAR) + RELEASE_SECONDS) * SAMPLE_RATE)
    assert all(_read_wav(p).size == length for p in first if p.suffix == ".wav")
    before = {p.name: p.read_bytes() for p in first}
    second = generate(1)  # the same names are taken: every file of the group moves to -2 together
    assert sorted(p.name for p in second) == names("-2")
    assert {p.name: p.read_bytes() for p in first} == before
