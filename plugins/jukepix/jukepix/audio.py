"""Render the MIDI files Jukepix writes to WAV: FluidSynth with a General MIDI SoundFont, or a built-in synth.

Public names: :class:`PianoRollRenderer` (a :class:`crossmodal.SampleRenderer`), the engines
:func:`synthesize_fluidsynth` and :func:`synthesize_builtin`, and the helpers :func:`find_soundfont`,
:func:`phrase_seconds`, :func:`fit_phrase` and :func:`write_wav`; the constants in ``__all__``
(:data:`SAMPLE_RATE`, :data:`RELEASE_SECONDS`, :data:`SOUNDFONT_PATHS`...).

The renderer reads each ``.mid`` file :class:`~jukepix.writer.PianoRollWriter` wrote, so it plays
what the file says: each track's GM program (the recipe's writer ``programs``: two pianos, or
piano and strings), the notes, and the tempo (:data:`~jukepix.constants.DEFAULT_TEMPO_QPM`
unless the writer's ``tempo_qpm`` sets another). It writes ``NAME.wav`` beside ``NAME.mid``:
16-bit PCM, mono, :data:`SAMPLE_RATE` samples per second. A WAV lasts the phrase, its bars at
the file's tempo (4 bars of 4/4 at 100 quarter notes per minute: 9.6 s), plus
:data:`RELEASE_SECONDS` for the last notes to die away; an empty phrase is that much silence,
all zeros. Audio with notes is scaled so that its peak is :data:`PEAK_LEVEL`.

Engines, chosen when the renderer is built (its ``engine`` line says which, and why):

- ``"fluidsynth"``: :meth:`pretty_midi.PrettyMIDI.fluidsynth`, which needs the ``pyfluidsynth``
  package (the ``audio`` extra: ``pip install 'crossmodal-jukepix[audio]'``) and the FluidSynth
  library, with the first General MIDI SoundFont
  :func:`find_soundfont` finds (on Debian and Ubuntu: ``apt-get install fluidsynth
  fluid-soundfont-gm`` gives both the library and FluidR3_GM.sf2, MIT-licensed);
- ``"builtin"``: :func:`synthesize_builtin`, additive synthesis in numpy that needs no system
  package: a few harmonics per note, struck (piano-like decay) or sustained (strings, organ...)
  by GM program family;
- ``"auto"`` (the default): FluidSynth when it can load a SoundFont, else the built-in synth.
"""

from __future__ import annotations

import math
import os
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np
import pretty_midi

from crossmodal import OutputError
from crossmodal.storage.files import shown
from crossmodal.storage.outputs import write_new

from .constants import BARS_PER_PHRASE, BEATS_PER_BAR, MIDI_MAX_VALUE, SEMITONES_PER_OCTAVE

__all__ = [
    "PianoRollRenderer",
    "find_soundfont",
    "fit_phrase",
    "phrase_seconds",
    "synthesize_builtin",
    "synthesize_fluidsynth",
    "write_wav",
    "SAMPLE_RATE",
    "SAMPLE_RATE_RANGE",
    "RELEASE_SECONDS",
    "FADE_OUT_SECONDS",
    "PEAK_LEVEL",
    "SYNTHESIZERS",
    "SOUNDFONT_VARIABLE",
    "SOUNDFONT_PATHS",
    "STRUCK_PROGRAMS",
]

SAMPLE_RATE = 44_100
"""Samples per second of the WAV files written (CD quality)."""

SAMPLE_RATE_RANGE = (8_000, 96_000)
"""Lowest and highest sample rate accepted, in Hz (FluidSynth's range)."""

RELEASE_SECONDS = 1.0
"""Seconds of audio after the phrase's last bar, for the last notes' release (and reverb) to fade."""

FADE_OUT_SECONDS = 0.05
"""The end of every WAV fades to zero over this long, so a cut reverb tail ends without a click."""

PEAK_LEVEL = 10 ** (-1 / 20)
"""Peak amplitude of a rendered phrase with notes, as a fraction of full scale (-1 dBFS)."""

WAV_SAMPLE_BYTES = 2
"""Bytes per sample written: 16-bit signed PCM."""

FULL_SCALE = 2 ** (8 * WAV_SAMPLE_BYTES - 1) - 1
"""Largest 16-bit sample value (32767): amplitude 1.0."""

SYNTHESIZERS = ("auto", "fluidsynth", "builtin")
"""Values of :class:`PianoRollRenderer`'s ``synthesizer`` option."""

SOUNDFONT_VARIABLE = "JUKEPIX_SOUNDFONT"
"""Environment variable naming the SoundFont (``.sf2``) FluidSynth plays with, before the usual places."""

SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",  # Debian, Ubuntu: fluid-soundfont-gm
    "/usr/share/soundfonts/FluidR3_GM.sf2",  # Fedora: fluid-soundfont-gm; Arch: soundfont-fluid
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
    "/usr/local/share/soundfonts/default.sf2",
)
"""General MIDI SoundFonts looked for, in order, after ``soundfont`` and :data:`SOUNDFONT_VARIABLE`;
then the small TimGM6mb.sf2 that pretty_midi ships."""

FLUIDSYNTH_GAIN = 0.5
"""FluidSynth's master gain (its default is 0.2): louder before the 16-bit conversion inside
FluidSynth, so quiet notes keep their resolution; dense chords stay below clipping."""

A4_PITCH, A4_HZ = 69, 440.0
"""Concert pitch: MIDI note 69 (A4) sounds at 440 Hz; each semitone is a factor 2 ** (1/12)."""


def find_soundfont(soundfont: str | os.PathLike[str] | None = None) -> Path | None:
    """The General MIDI SoundFont to play with: ``soundfont`` when given (it must exist), else
    ``$JUKEPIX_SOUNDFONT``, else the first of :data:`SOUNDFONT_PATHS` that exists, else the
    TimGM6mb.sf2 that pretty_midi ships; ``None`` when there is none.

    :raises ValueError: ``soundfont`` or ``$JUKEPIX_SOUNDFONT`` names no file.
    """
    chosen = ((soundfont, "soundfont"), (os.environ.get(SOUNDFONT_VARIABLE) or None, f"${SOUNDFONT_VARIABLE}"))
    for given, what in chosen:
        if given is not None:
            if not Path(given).is_file():
                raise ValueError(f"PianoRollRenderer: {what} {shown(str(given))} is not a file")
            return Path(given)
    bundled = Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")
    return next((Path(p) for p in (*SOUNDFONT_PATHS, bundled) if Path(p).is_file()), None)


def _fluidsynth_problem(soundfont: Path | None, sample_rate: int) -> str | None:
    """Why FluidSynth cannot render with ``soundfont`` here, in a few words; ``None`` when it can."""
    try:
        import fluidsynth
    except ModuleNotFoundError:
        return "no FluidSynth: pyfluidsynth is not installed"
    except (ImportError, OSError) as err:  # pyfluidsynth found no FluidSynth library, or could not load it
        return f"no FluidSynth: {' '.join(str(err).split())}"
    if soundfont is None:
        return "FluidSynth found no General MIDI SoundFont"
    synth = fluidsynth.Synth(samplerate=float(sample_rate))
    try:
        if synth.sfload(str(soundfont)) == -1:
            return f"FluidSynth could not load {shown(soundfont.name)}"
    finally:
        synth.delete()
    return None


def phrase_seconds(midi: pretty_midi.PrettyMIDI) -> float:
    """Length of the phrase a file holds, in seconds at its tempo: the whole 4/4 bars up to its
    last note-off, at least :data:`~jukepix.constants.BARS_PER_PHRASE` (an empty phrase too)."""
    last_tick = max((midi.time_to_tick(note.end) for track in midi.instruments for note in track.notes), default=0)
    ticks_per_bar = BEATS_PER_BAR * midi.resolution
    bars = max(BARS_PER_PHRASE, -(-last_tick // ticks_per_bar))
    return float(midi.tick_to_time(bars * ticks_per_bar))


def fit_phrase(audio: np.ndarray, midi: pretty_midi.PrettyMIDI, sample_rate: int) -> np.ndarray:
    """``audio`` cut or padded with silence to :func:`phrase_seconds` + :data:`RELEASE_SECONDS`,
    faded out over its last :data:`FADE_OUT_SECONDS`, then scaled to peak at :data:`PEAK_LEVEL`
    (silence stays zeros).

    :param audio: float ``(samples,)`` at ``sample_rate``, in any scale.
    :returns: float64 ``(samples,)`` in [-1, 1].
    """
    length = round((phrase_seconds(midi) + RELEASE_SECONDS) * sample_rate)
    fitted = np.zeros(length)
    kept = np.asarray(audio, dtype=np.float64)[:length]
    fitted[: kept.size] = kept
    fade = min(length, round(FADE_OUT_SECONDS * sample_rate))
    fitted[length - fade:] *= np.linspace(1.0, 0.0, fade)
    peak = np.abs(fitted).max(initial=0.0)
    return fitted * (PEAK_LEVEL / peak) if peak > 0 else fitted


def synthesize_fluidsynth(
    midi: pretty_midi.PrettyMIDI, soundfont: str | os.PathLike[str], sample_rate: int
) -> np.ndarray:
    """Play ``midi`` with FluidSynth and ``soundfont``, through :meth:`pretty_midi.PrettyMIDI.fluidsynth`.

    One fresh synthesizer per call, so nothing of an earlier file still sounds.

    :returns: float ``(samples,)`` at ``sample_rate``, unscaled, up to one second after the last
        note-off (empty when there are no notes); :func:`fit_phrase` sets its length and level.
    :raises OutputError: FluidSynth cannot load ``soundfont``.
    """
    import fluidsynth

    synth = fluidsynth.Synth(gain=FLUIDSYNTH_GAIN, samplerate=float(sample_rate))
    try:
        sfid = synth.sfload(str(soundfont))
        if sfid == -1:
            raise OutputError(f"FluidSynth could not load the SoundFont {shown(str(soundfont))}")
        return midi.fluidsynth(synthesizer=synth, sfid=sfid, normalize=False)
    finally:
        synth.delete()


@dataclass(frozen=True)
class _Timbre:
    """How the built-in synth plays one family of GM programs.

    :param harmonics: amplitude of each harmonic, the fundamental first.
    :param attack: seconds of the linear rise at the note's start.
    :param decay: for a struck sound, seconds for middle C's fundamental to fall by 1/e (higher
        notes and harmonics fall faster); ``None`` for a sustained sound.
    :param release: seconds of the linear fade after the note-off.
    """

    harmonics: tuple[float, ...]
    attack: float
    decay: float | None
    release: float


STRUCK = _Timbre(harmonics=(1.0, 0.45, 0.25, 0.15, 0.08, 0.05, 0.03), attack=0.003, decay=1.2, release=0.15)
"""Piano-like: a fast attack, then every harmonic decays, the upper ones faster."""

SUSTAINED = _Timbre(harmonics=(1.0, 0.55, 0.35, 0.22, 0.14, 0.09), attack=0.04, decay=None, release=0.25)
"""Strings, organs, winds: a softer attack, the level held until the note-off."""

STRUCK_PROGRAMS = frozenset((*range(0, 16), *range(24, 40), *range(104, 120)))
"""GM programs (0-based) played :data:`STRUCK`: pianos, chromatic percussion, guitars, basses,
ethnic plucked and percussive; every other program is played :data:`SUSTAINED`."""

MIDDLE_C = 60
"""MIDI number of middle C (C4), where :attr:`_Timbre.decay` is measured."""


def _note_wave(pitch: int, velocity: int, seconds: float, timbre: _Timbre, sample_rate: int) -> np.ndarray:
    """One note, float ``(samples,)``: ``seconds`` held, then ``timbre.release`` of fade to zero."""
    held = max(1, round(seconds * sample_rate))
    t = np.arange(held + round(timbre.release * sample_rate)) / sample_rate  # seconds since the onset
    fundamental = A4_HZ * 2.0 ** ((pitch - A4_PITCH) / SEMITONES_PER_OCTAVE)
    wave_ = np.zeros_like(t)
    for number, amplitude in enumerate(timbre.harmonics, start=1):
        if number * fundamental >= sample_rate / 2:  # above Nyquist: it would alias
            break
        partial = amplitude * np.sin(2 * np.pi * number * fundamental * t)
        if timbre.decay is not None:
            # decay time: halves every two octaves up, and by sqrt(n) for harmonic n
            decay = timbre.decay * 2.0 ** (-(pitch - MIDDLE_C) / (2 * SEMITONES_PER_OCTAVE)) / math.sqrt(number)
            partial *= np.exp(-t / decay)
        wave_ += partial
    envelope = np.minimum(1.0, t / timbre.attack)
    after_off = t - held / sample_rate
    envelope *= np.clip(1.0 - after_off / timbre.release, 0.0, 1.0)
    return wave_ * envelope * (velocity / MIDI_MAX_VALUE)


def synthesize_builtin(midi: pretty_midi.PrettyMIDI, sample_rate: int) -> np.ndarray:
    """Play ``midi`` by additive synthesis: each note a few harmonics of its pitch under an
    attack-decay-release envelope, :data:`STRUCK` or :data:`SUSTAINED` by its track's GM program.

    Pure numpy: no system package, so a fresh install can listen too.

    :returns: float ``(samples,)`` at ``sample_rate``, unscaled, up to the end of the last
        release (empty when there are no notes); :func:`fit_phrase` sets its length and level.
    """
    notes = [
        (note, STRUCK if track.program in STRUCK_PROGRAMS else SUSTAINED)
        for track in midi.instruments for note in track.notes
    ]
    if not notes:
        return np.zeros(0)
    end = max(note.end + timbre.release for note, timbre in notes)
    mix = np.zeros(round(end * sample_rate) + 1)
    for note, timbre in notes:
        sound = _note_wave(note.pitch, note.velocity, note.end - note.start, timbre, sample_rate)
        start = round(note.start * sample_rate)
        sound = sound[: mix.size - start]
        mix[start:start + sound.size] += sound
    return mix


def write_wav(file: BinaryIO, audio: np.ndarray, sample_rate: int) -> None:
    """Write ``audio`` (float ``(samples,)`` in [-1, 1]) to ``file`` as a 16-bit PCM mono WAV."""
    pcm = np.round(np.clip(audio, -1.0, 1.0) * FULL_SCALE).astype("<i2")
    with wave.open(file, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(WAV_SAMPLE_BYTES)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())


class PianoRollRenderer:
    """Renders each phrase's ``.mid`` file to a ``.wav`` of the same name, with FluidSynth or a
    built-in synth.

    Plays each track with its GM program at the file's tempo; 16-bit mono WAV, the phrase plus
    :data:`RELEASE_SECONDS` long. :meth:`render` never overwrites a file: when ``NAME.wav``
    exists it writes ``NAME-2.wav`` (see :mod:`crossmodal.storage.outputs`).

    Attributes: ``engine``, what renders in one line (``"fluidsynth (FluidR3_GM.sf2)"``,
    ``"builtin additive synth (no FluidSynth: pyfluidsynth is not installed)"``), which
    ``crossmodal generate --render`` prints; ``soundfont``, the SoundFont FluidSynth plays with
    (``None`` when the built-in synth renders); ``sample_rate``, in Hz.

    :param synthesizer: ``"auto"``: FluidSynth when it can load a SoundFont, else the built-in
        synth; ``"fluidsynth"``: FluidSynth or an error; ``"builtin"``: the built-in synth.
    :param soundfont: the General MIDI SoundFont (``.sf2``) for FluidSynth; ``None``: the first
        :func:`find_soundfont` finds.
    :param sample_rate: samples per second of the WAV files.
    :raises ValueError: an unknown ``synthesizer``, a ``sample_rate`` outside
        :data:`SAMPLE_RATE_RANGE`, a ``soundfont`` that is not a file, or ``"fluidsynth"`` when
        FluidSynth cannot be used (saying why).
    """

    def __init__(
        self, synthesizer: str = "auto", soundfont: str | None = None, sample_rate: int = SAMPLE_RATE
    ) -> None:
        if synthesizer not in SYNTHESIZERS:
            raise ValueError(
                f"PianoRollRenderer: synthesizer must be one of {', '.join(SYNTHESIZERS)}, got {synthesizer!r}"
            )
        low, high = SAMPLE_RATE_RANGE
        if not isinstance(sample_rate, int) or not low <= sample_rate <= high:
            raise ValueError(
                f"PianoRollRenderer: sample_rate must be an integer from {low} to {high} Hz, got {sample_rate!r}"
            )
        self.sample_rate = sample_rate
        self.soundfont: Path | None = None
        self.engine = "builtin additive synth"
        if synthesizer == "builtin":
            return
        found = find_soundfont(soundfont)
        problem = _fluidsynth_problem(found, sample_rate)
        if problem is None:
            self.soundfont = found
            self.engine = f"fluidsynth ({found.name})"
        elif synthesizer == "fluidsynth":
            raise ValueError(
                f"PianoRollRenderer: {problem}; install FluidSynth and a SoundFont (Debian, Ubuntu: apt-get "
                "install fluidsynth fluid-soundfont-gm; pip install pyfluidsynth) or use synthesizer 'auto'"
            )
        else:
            self.engine = f"builtin additive synth ({problem})"

    def synthesize(self, midi: pretty_midi.PrettyMIDI) -> np.ndarray:
        """``midi`` played by this renderer's engine: float64 ``(samples,)`` in [-1, 1] at
        :attr:`sample_rate`, :func:`phrase_seconds` + :data:`RELEASE_SECONDS` long."""
        if self.soundfont is not None:
            audio = synthesize_fluidsynth(midi, self.soundfont, self.sample_rate)
        else:
            audio = synthesize_builtin(midi, self.sample_rate)
        return fit_phrase(audio, midi, self.sample_rate)

    def render(self, files: Sequence[Path]) -> list[Path]:
        """Write ``NAME.wav`` beside each ``NAME.mid`` (or ``.midi``) of ``files``; other files are left alone.

        :returns: the WAV files written, in the order of ``files``.
        :raises OutputError: a MIDI file cannot be read, or a WAV file cannot be written (naming it).
        """
        written = []
        for path in map(Path, files):
            if path.suffix.lower() not in (".mid", ".midi"):
                continue
            try:
                midi = pretty_midi.PrettyMIDI(str(path))
            except (OSError, ValueError, EOFError) as err:
                raise OutputError(
                    f"{shown(path)}: cannot be read to render it ({type(err).__name__}: {err})"
                ) from err
            audio = self.synthesize(midi)
            wav = path.with_suffix(".wav")
            written.append(write_new(wav, lambda file: write_wav(file, audio, self.sample_rate)))
        return written
