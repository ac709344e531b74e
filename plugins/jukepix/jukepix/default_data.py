"""Embedded default data that works on a fresh install, with no download.

Public: :func:`cache_dir`, :func:`chorale_phrases`, :func:`default_phrase_set`,
:func:`default_image_files`, :func:`default_painting_set`, :data:`DEFAULT_IMAGE_FILES`.

Music: the Bach chorales bundled in music21's corpus, 4/4 ones only, four voices. Notes are
placed on the step grid straight from their music21 offsets and durations in quarter lengths
(``step = round(quarter_length * STEPS_PER_BEAT)``, ties merged), with a pickup bar padded so that
bar lines fall on multiples of ``STEPS_PER_BAR``. Voices per track mode: ``piano-hands`` =
soprano+alto / tenor+bass, ``melody-chords`` = soprano / alto+tenor+bass; ``piano-strings`` has
no default (chorales have no strings). The prepared set is cached (see :func:`cache_dir`).

Pictures: no installed package ships paintings, so the default is the colour photographs bundled
in the scikit-image wheel (``skimage/data``; read straight from the files, no pooch download) and
in matplotlib's ``mpl-data/sample_data``. They are for smoke tests and demos, not for training.
"""

from __future__ import annotations

import importlib.util
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from crossmodal.errors import DataError

from .constants import ACOUSTIC_GRAND_PIANO, BEAT_NOTE_VALUE, BEATS_PER_BAR, NOTE_FIELDS, NOTE_OFFSET, STEPS_PER_BAR, STEPS_PER_BEAT
from .midi_reader import Bar
from .prepare import build_painting_set, collect_phrases, notes_to_phrases
from crossmodal.storage.skips import SkipFile
from .store import FORMAT_VERSION, PaintingSet, PhraseSet, load_dataset, write_dataset

__all__ = [
    "DEFAULT_IMAGE_FILES",
    "VOICE_LAYOUTS",
    "cache_dir",
    "chorale_paths",
    "chorale_phrases",
    "default_image_files",
    "default_painting_set",
    "default_phrase_set",
]

VOICE_LAYOUTS = {
    "piano-hands": ((0, 1), (2, 3)),
    "melody-chords": ((0,), (1, 2, 3)),
}
"""Track mode -> (voice indices of track 1, of track 2); voices are soprano, alto, tenor, bass."""

DEFAULT_IMAGE_FILES = {
    "skimage": (
        "data/astronaut.png",
        "data/chelsea.png",
        "data/coffee.png",
        "data/rocket.jpg",
        "data/hubble_deep_field.jpg",
        "data/ihc.png",
        "data/retina.jpg",
        "data/motorcycle_left.png",
    ),
    "matplotlib": (
        "mpl-data/sample_data/grace_hopper.jpg",
        "mpl-data/sample_data/Minduka_Present_Blue_Pack.png",
    ),
}
"""Package -> colour images inside its installed directory used as the default pictures."""

VOICE_NAMES = ("soprano", "alto", "tenor", "bass")


def cache_dir() -> Path:
    """Where prepared default data is kept: ``$CROSSMODAL_CACHE/jukepix``, else
    ``~/.cache/crossmodal/jukepix``. Nothing is created here."""
    root = os.environ.get("CROSSMODAL_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "crossmodal") / "jukepix"


def chorale_paths() -> list[Path]:
    """The Bach works in music21's bundled corpus, sorted by path (chorales and a few others)."""
    from music21 import corpus

    return sorted(Path(p) for p in corpus.getComposer("bach"))


def _voice_notes(part, pad: Fraction) -> np.ndarray:
    """Notes of one music21 part as an int64 note array ``(n, len(NOTE_FIELDS))``: onset step,
    offset step, pitch, program :data:`~jukepix.constants.ACOUSTIC_GRAND_PIANO`."""
    rows = []
    for element in part.stripTies().flatten().notes:
        onset = Fraction(element.offset) + pad
        end = onset + Fraction(element.quarterLength)
        first, last = round(onset * STEPS_PER_BEAT), round(end * STEPS_PER_BEAT)
        rows.extend((first, max(last, first + 1), p.midi, ACOUSTIC_GRAND_PIANO) for p in element.pitches)
    return np.array(rows, dtype=np.int64).reshape(-1, len(NOTE_FIELDS))


def _satb_parts(score) -> list:
    """The soprano, alto, tenor and bass parts: by part name when all four are named (extra
    instrument parts are then ignored), else the parts in order when there are exactly four.

    :raises SkipFile: neither rule finds four voices.
    """
    parts = list(score.parts)
    by_name = {(part.partName or "").strip().lower(): part for part in parts}
    if all(voice in by_name for voice in VOICE_NAMES):
        return [by_name[voice] for voice in VOICE_NAMES]
    if len(parts) != len(VOICE_NAMES):
        raise SkipFile("track layout", f"{len(parts)} parts, expected {len(VOICE_NAMES)} voices (SATB)")
    return parts


def _corpus_name(path: str) -> str:
    """How a chorale is named in the manifest and the skips: ``music21:bach/<file name>``."""
    return f"music21:bach/{Path(path).name}"


def chorale_phrases(path: str | Path, mode: str, segmentation: str) -> tuple[np.ndarray, list[int]]:
    """Phrases of one chorale of the music21 corpus.

    :returns: bool ``(n, 4, 96, 128, 2)`` phrases and each phrase's first bar (0 = the first full
        bar, or the padded pickup bar).
    :raises SkipFile: no four voices, not entirely in 4/4, or no phrase.
    """
    from music21 import converter, meter

    score = converter.parse(path)
    parts = _satb_parts(score)
    meters = {ts.ratioString for ts in score.recurse().getElementsByClass(meter.TimeSignature)}
    if meters != {f"{BEATS_PER_BAR}/{BEAT_NOTE_VALUE}"}:
        raise SkipFile("no 4/4 bars", f"time signatures {sorted(meters) or 'none'}, not 4/4 only")
    measures = list(parts[0].getElementsByClass("Measure"))
    bar_length = Fraction(BEATS_PER_BAR)
    pickup = Fraction(measures[0].duration.quarterLength) if measures else bar_length
    pad = bar_length - pickup if 0 < pickup < bar_length else Fraction(0)
    voices = [_voice_notes(part, pad) for part in parts]
    first, second = (np.concatenate([voices[v] for v in group]) for group in VOICE_LAYOUTS[mode])
    end = max(int(v[:, NOTE_OFFSET].max()) for v in voices if len(v))
    bars = [Bar(start, STEPS_PER_BAR, BEATS_PER_BAR, BEAT_NOTE_VALUE) for start in range(0, end, STEPS_PER_BAR)]
    return notes_to_phrases(first, second, bars, segmentation)


def default_phrase_set(
    mode: str = "piano-hands", segmentation: str = "bars", limit: int | None = None, jobs: int | None = None
) -> PhraseSet:
    """The Bach-chorale phrase set, built on first use and then loaded from the cache.

    :param limit: use only the first ``limit`` works of the corpus (for tests); ``None`` = all.
    :param jobs: worker processes for the first build; ``None`` uses every core.
    :raises DataError: ``mode`` has no default (``piano-strings``) or nothing usable was found.
    """
    if mode not in VOICE_LAYOUTS:
        raise DataError(
            f"no embedded default for mode {mode!r} (the Bach chorales have voices, not instruments); "
            "give a source: a prepared dataset or a folder of MIDI files"
        )
    target = cache_dir() / f"bach-chorales-{mode}-{segmentation}-{limit or 'all'}-v{FORMAT_VERSION}"
    if (target / "metadata.json").is_file():
        return load_dataset(target)
    paths = chorale_paths()[:limit]
    packed, manifest, skipped = collect_phrases(
        paths, chorale_phrases, mode, segmentation, jobs, source_name=_corpus_name
    )
    if not packed:
        raise DataError(f"music21 corpus ({len(paths)} Bach works): no usable 4/4 chorale")
    options = {"mode": mode, "segmentation": segmentation, "origin": "music21 Bach chorales", "limit": limit}
    # Our own cache: replacing a set that another process has just built there is fine (force);
    # write_dataset still refuses a folder that is not exactly one of our datasets.
    write_dataset(target, PhraseSet(np.concatenate(packed), manifest, skipped, options), options, force=True)
    return load_dataset(target)


def default_image_files() -> list[Path]:
    """The bundled colour images of :data:`DEFAULT_IMAGE_FILES` that exist in this installation."""
    files = []
    for package, names in DEFAULT_IMAGE_FILES.items():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        files.extend(root / name for name in names if (root / name).is_file())
    return files


def default_painting_set(top_k: int | None = None, jobs: int | None = 1) -> PaintingSet:
    """The default pictures prepared in memory (about ten files, well under a second).

    :raises DataError: none of the bundled images is installed.
    """
    files = default_image_files()
    if not files:
        raise DataError(
            "no bundled default images found (looked in skimage/data and matplotlib's sample_data)"
        )
    return build_painting_set(files, top_k, jobs)
