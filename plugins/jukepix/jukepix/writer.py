"""Write generated phrases as files people open: a two-track MIDI file and a piano-roll PNG.

Public names: :class:`PianoRollWriter` (a :class:`crossmodal.SampleWriter`) and the helpers
:func:`phrase_to_pretty_midi`, :func:`roll_to_notes` and :func:`render_pianoroll_png`.

A phrase is ``(bars, time, pitch, tracks)`` = ``(4, 96, 128, 2)``: time in steps at
:data:`~jukepix.constants.STEPS_PER_BEAT` per beat, pitch the MIDI number, values in [0, 1]
(the generator's on-probabilities), binarised as ``value > 0.5``. Consecutive on-steps of one
pitch are one note, so two repeated notes need an off-step between them (the training data
leaves a one-step rest before a re-struck note).

MIDI files are written at :data:`TICKS_PER_BEAT` ticks per beat, a multiple of the step grid, so
each note starts and ends on an exact tick: a note of ``n`` steps lasts ``n * TICKS_PER_STEP``
ticks. Each track gets its own MIDI track, channel, name and program; tempo, a 4/4 time
signature and the text event :func:`jukepix.written.phrase_marker` are written at tick 0. The
marker lets the phrases dataset read the file back as exactly the phrase written, silent tracks
included (``crossmodal evaluate RUN/generated``), instead of cutting it like other music.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np
import pretty_midi
import torch

from crossmodal import ShapeError, check_shape
from crossmodal.storage.outputs import write_new_group

from .constants import (
    BEAT_NOTE_VALUE,
    BEATS_PER_BAR,
    DEFAULT_TEMPO_QPM,
    MIDI_MAX_VALUE,
    N_PITCHES,
    N_TRACKS,
    PHRASE_SHAPE,
    PIANO_PROGRAMS_PAIR,
    STEPS_PER_BAR,
    STEPS_PER_BEAT,
)
from .written import phrase_marker

__all__ = [
    "PianoRollWriter",
    "phrase_to_pretty_midi",
    "roll_to_notes",
    "render_pianoroll_png",
    "TICKS_PER_BEAT",
    "TICKS_PER_STEP",
    "DEFAULT_VELOCITY",
    "ON_THRESHOLD",
]

TICKS_PER_BEAT = 480
"""MIDI resolution written, in ticks per quarter note (20 ticks per step; 480 is the common
resolution of notation programs)."""

TICKS_PER_STEP = TICKS_PER_BEAT // STEPS_PER_BEAT
"""MIDI ticks per piano-roll time step (20)."""

assert TICKS_PER_STEP * STEPS_PER_BEAT == TICKS_PER_BEAT, "ticks per beat must be a multiple of steps per beat"

DEFAULT_VELOCITY = 100
"""MIDI velocity (1-127) of every written note: the piano-rolls carry no dynamics."""

ON_THRESHOLD = 0.5
"""A cell is a sounding note when its value is above this (the generator's sigmoid output is the
probability that the cell is on)."""

DEFAULT_TRACK_NAMES = ("Piano right", "Piano left")
"""Track names written to MIDI and shown on the PNG panels, track 1 first."""

def _binary_phrase(phrase: torch.Tensor | np.ndarray, threshold: float = ON_THRESHOLD) -> np.ndarray:
    """``phrase (4, 96, 128, 2)`` in [0, 1] -> bool ``(384, 128, 2)`` (time over all bars, pitch, tracks)."""
    if isinstance(phrase, torch.Tensor):
        phrase = phrase.detach().to("cpu", torch.float32).numpy()
    phrase = np.asarray(phrase)
    if phrase.shape != PHRASE_SHAPE:
        raise ShapeError(
            f"jukepix.writer: a phrase must have shape {PHRASE_SHAPE} (bars, time steps, pitches, "
            f"tracks), got {phrase.shape}"
        )
    on = phrase > threshold
    return on.reshape(-1, *on.shape[2:])  # (bars * time, pitch, tracks)


def roll_to_notes(roll: np.ndarray) -> list[tuple[int, int, int]]:
    """Turn a binary piano-roll into notes: each run of consecutive on-steps of a pitch is one note.

    :param roll: bool ``(time, pitch)``, time in steps.
    :returns: ``(pitch, start_step, end_step)`` triples, ``end_step`` exclusive, sorted by start
        then pitch.
    """
    roll = np.asarray(roll, dtype=bool)
    padded = np.zeros((roll.shape[0] + 2, roll.shape[1]), dtype=np.int8)
    padded[1:-1] = roll
    change = np.diff(padded, axis=0)  # +1 at an onset step, -1 at the step after a note ends
    onset_steps, onset_pitches = np.nonzero(change == 1)
    offset_steps, offset_pitches = np.nonzero(change == -1)
    # np.nonzero is row-major: sort both by (pitch, step) so the k-th onset meets the k-th offset
    onsets = np.lexsort((onset_steps, onset_pitches))
    offsets = np.lexsort((offset_steps, offset_pitches))
    notes = zip(onset_pitches[onsets], onset_steps[onsets], offset_steps[offsets])
    return sorted(((int(p), int(s), int(e)) for p, s, e in notes), key=lambda note: (note[1], note[0]))


def phrase_to_pretty_midi(
    phrase: torch.Tensor | np.ndarray,
    programs: Sequence[int] = PIANO_PROGRAMS_PAIR,
    track_names: Sequence[str] = DEFAULT_TRACK_NAMES,
    tempo_qpm: float = DEFAULT_TEMPO_QPM,
    velocity: int = DEFAULT_VELOCITY,
    threshold: float = ON_THRESHOLD,
) -> pretty_midi.PrettyMIDI:
    """Build a two-track MIDI object from one phrase.

    :param phrase: ``(4, 96, 128, 2)`` (bars, time steps, MIDI pitches, tracks), values in [0, 1];
        a cell is on when its value is above ``threshold``.
    :param programs: GM program per track, 0-based (0 = Acoustic Grand Piano, 48 = String
        Ensemble 1).
    :param track_names: name per track.
    :param tempo_qpm: tempo in quarter notes per minute.
    :param velocity: MIDI velocity of every note.
    :returns: a :class:`pretty_midi.PrettyMIDI` at :data:`TICKS_PER_BEAT` ticks per beat with
        one instrument per track, and a tempo, a 4/4 time signature and the text event
        :func:`jukepix.written.phrase_marker` at time 0.
    """
    rolls = _binary_phrase(phrase, threshold)  # (time, pitch, tracks)
    midi = pretty_midi.PrettyMIDI(resolution=TICKS_PER_BEAT, initial_tempo=tempo_qpm)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(BEATS_PER_BAR, BEAT_NOTE_VALUE, 0.0))
    midi.text_events.append(pretty_midi.Text(phrase_marker(), 0.0))
    seconds_per_step = 60.0 / tempo_qpm / STEPS_PER_BEAT
    for track, (program, name) in enumerate(zip(programs, track_names, strict=True)):
        instrument = pretty_midi.Instrument(program=program, name=name)
        for pitch, start, end in roll_to_notes(rolls[:, :, track]):
            instrument.notes.append(
                pretty_midi.Note(velocity, pitch, start * seconds_per_step, end * seconds_per_step)
            )
        midi.instruments.append(instrument)
    return midi


def render_pianoroll_png(
    phrase: torch.Tensor | np.ndarray,
    destination: str | Path | BinaryIO,
    titles: Sequence[str] = DEFAULT_TRACK_NAMES,
    threshold: float = ON_THRESHOLD,
    pitch_margin: int = 3,
) -> None:
    """Draw one phrase as a piano-roll PNG, one panel per track (as the paper's Figs. 5 and 6).

    Pitch (MIDI number) on the y axis, limited to the pitches used in either track plus
    ``pitch_margin`` (the whole range when the phrase is silent); time on the x axis in bars,
    with bar lines and fainter beat lines.

    :param phrase: ``(4, 96, 128, 2)`` in [0, 1], binarised at ``threshold``.
    :param destination: a path or a binary file object to write the PNG to.
    :param titles: panel title per track.
    """
    rolls = _binary_phrase(phrase, threshold)  # (time, pitch, tracks)
    used = np.nonzero(rolls.any(axis=(0, 2)))[0]
    low, high = (used[0] - pitch_margin, used[-1] + pitch_margin) if used.size else (0, N_PITCHES - 1)
    low, high = max(low, 0), min(high, N_PITCHES - 1)
    n_steps = rolls.shape[0]
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # here: importing it costs ~1 s
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 2.5 * N_TRACKS), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(N_TRACKS, 1, sharex=True, squeeze=False)[:, 0]
    for track, (ax, title) in enumerate(zip(axes, titles, strict=True)):
        roll = rolls[:, :, track].T  # (pitch, time)
        ax.imshow(
            np.ma.masked_where(~roll, roll),  # off cells transparent, so grid lines show behind
            cmap="Greys",
            vmin=0,
            vmax=1,
            aspect="auto",
            origin="lower",
            interpolation="nearest",
            extent=(0, n_steps, -0.5, N_PITCHES - 0.5),
        )
        for step in range(0, n_steps + 1, STEPS_PER_BEAT):
            bar_line = step % STEPS_PER_BAR == 0
            ax.axvline(
                step, color="tab:blue" if bar_line else "0.85", linewidth=1.0 if bar_line else 0.5, zorder=0
            )
        ax.set_ylim(low - 0.5, high + 0.5)
        ax.set_ylabel("MIDI pitch")
        ax.set_title(title, loc="left", fontsize="medium")
    bar_starts = range(0, n_steps, STEPS_PER_BAR)
    axes[-1].set_xticks(bar_starts, [f"bar {i + 1}" for i in range(len(bar_starts))], ha="left")
    axes[-1].set_xlim(0, n_steps)
    axes[-1].set_xlabel(f"time (beat lines every {STEPS_PER_BEAT} steps)")
    figure.savefig(destination, format="png", dpi=100)


class PianoRollWriter:
    """Writes each generated phrase as ``{stem}-{i}.mid`` (two tracks) and ``{stem}-{i}.png``.

    Nothing is ever overwritten: when either name of phrase ``i`` exists already, both files
    are written as ``{stem}-{i}-2.mid`` / ``.png`` (or ``-3``..., the first number free for
    both), see :mod:`crossmodal.storage.outputs`; :meth:`write` returns the names actually used. Each
    file is written atomically, so a full disk raises one :class:`crossmodal.OutputError`
    naming the file and leaves neither a partial file nor a temporary one.

    :param programs: GM program per track, 0-based;
        :data:`~jukepix.constants.PIANO_PROGRAMS_PAIR` (two pianos) by default,
        :data:`~jukepix.constants.PIANO_STRINGS_PROGRAMS` for piano + strings.
    :param track_names: name per track, written to MIDI and used as PNG panel titles.
    :param tempo_qpm: tempo written into the MIDI files, quarter notes per minute.
    :param velocity: MIDI velocity of every note (1-127).
    """

    def __init__(
        self,
        programs: Sequence[int] = PIANO_PROGRAMS_PAIR,
        track_names: Sequence[str] = DEFAULT_TRACK_NAMES,
        tempo_qpm: float = DEFAULT_TEMPO_QPM,
        velocity: int = DEFAULT_VELOCITY,
    ) -> None:
        programs, track_names = tuple(programs), tuple(track_names)
        if len(programs) != N_TRACKS or not all(isinstance(p, int) and 0 <= p <= MIDI_MAX_VALUE for p in programs):
            raise ValueError(
                f"PianoRollWriter: programs must be {N_TRACKS} GM programs in 0-{MIDI_MAX_VALUE} (0-based), got {programs}"
            )
        if len(track_names) != N_TRACKS:
            raise ValueError(f"PianoRollWriter: track_names must name {N_TRACKS} tracks, got {track_names}")
        if not tempo_qpm > 0:
            raise ValueError(f"PianoRollWriter: tempo_qpm must be positive, got {tempo_qpm}")
        if not 1 <= velocity <= MIDI_MAX_VALUE:
            raise ValueError(f"PianoRollWriter: velocity must be in 1-{MIDI_MAX_VALUE}, got {velocity}")
        self.programs = programs
        self.track_names = track_names
        self.tempo_qpm = float(tempo_qpm)
        self.velocity = velocity

    def write(self, samples: torch.Tensor, directory: Path, stem: str) -> list[Path]:
        """Write every phrase of ``samples`` into ``directory`` (created if missing).

        :param samples: ``(B, 4, 96, 128, 2)`` (phrases, bars, time steps, MIDI pitches, tracks)
            in [0, 1]; cells above 0.5 are notes.
        :param directory: the folder to write into.
        :param stem: file-name stem; phrase ``i`` goes to ``{stem}-{i}.mid`` and ``{stem}-{i}.png``
            (numbered ``{stem}-{i}-2.*``... when taken; existing files are never overwritten).
        :returns: the paths written, MIDI then PNG for each phrase in order.
        :raises OutputError: a file could not be written (naming it).
        """
        check_shape(self, "samples", samples, (None, *PHRASE_SHAPE))
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for index, phrase in enumerate(samples.detach().to("cpu", torch.float32)):
            midi = phrase_to_pretty_midi(phrase, self.programs, self.track_names, self.tempo_qpm, self.velocity)
            written += write_new_group([
                (directory / f"{stem}-{index}.mid", midi.write),
                (directory / f"{stem}-{index}.png",
                 lambda file, p=phrase: render_pianoroll_png(p, file, self.track_names)),
            ])
        return written
