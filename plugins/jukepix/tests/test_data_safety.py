"""Safety of ``prepare music`` / ``prepare images`` and the dataset factories against what they meet:
folders they did not write, leftovers of killed runs, hostile images, a full disk, odd file names."""

from __future__ import annotations

import errno
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from crossmodal.errors import DataError
from jukepix import store
from jukepix.commands import add_prepare_commands
from jukepix.datasets import painting_dataset
from jukepix.store import load_dataset

NOTES = [
    [(i * 480, i * 480 + 240, 72 + i % 5) for i in range(64)],
    [(i * 480, i * 480 + 480, 48) for i in range(64)],
]
"""Two tracks of notes over 16 bars of 4/4 at 480 ticks per beat: 4 phrases in piano-hands mode."""


@pytest.fixture
def prepare_group() -> click.Group:
    group = click.Group("prepare")
    add_prepare_commands(group)
    return group


@pytest.fixture
def midi_in(tmp_path, make_midi) -> Path:
    """A folder with one usable MIDI file and one usable image (each command reads only its own)."""
    import cv2

    folder = tmp_path / "in"
    folder.mkdir()
    make_midi(folder / "song.mid", NOTES, names=["right", "left"])
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    cv2.imwrite(str(folder / "picture.png"), pixels)
    return folder


def run(group: click.Group, *args: str):
    return CliRunner().invoke(group, [str(a) for a in args])


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (relative path -> file bytes, None for a folder)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in folder.rglob("*")}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


# --- 1. never delete what the command did not write -------------------------------------------


@pytest.mark.parametrize("command", ["music", "images"])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_folder_with_metadata_json_and_user_files_is_refused_and_untouched(
    prepare_group, midi_in, tmp_path, command, force
):
    out = tmp_path / "mine"
    (out / "photos").mkdir(parents=True)
    (out / "photos" / "holiday.jpg").write_bytes(b"\xff\xd8 precious")
    (out / "thesis.tex").write_text("years of work")
    real = store.write_dataset(tmp_path / "real", _tiny_phrases(), {})  # a genuine metadata.json
    shutil.copy(real / "metadata.json", out / "metadata.json")
    shutil.copy(real / "data.npy", out / "data.npy")
    before = tree(out)
    result = run(prepare_group, command, midi_in, "--out", out, "--jobs", "1", *force)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and str(out) in lines[0] and "not a Jukepix dataset" in lines[0]
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "mine", "real"]


def test_existing_dataset_is_replaced_only_with_force(prepare_group, midi_in, tmp_path, make_midi):
    out = tmp_path / "ds"
    assert run(prepare_group, "music", midi_in, "--out", out, "--jobs", "1").exit_code == 0
    before = tree(out)
    make_midi(midi_in / "more.mid", NOTES, names=["right", "left"])

    refused = run(prepare_group, "music", midi_in, "--out", out, "--jobs", "1")
    assert refused.exit_code == 1
    lines = error_lines(refused.stderr)
    assert len(lines) == 1 and str(out) in lines[0] and "--force" in lines[0]
    assert tree(out) == before

    replaced = run(prepare_group, "music", midi_in, "--out", out, "--jobs", "1", "--force")
    assert replaced.exit_code == 0, replaced.output
    assert {Path(row["source"]).name for row in load_dataset(out).manifest} == {"song.mid", "more.mid"}
    assert sorted(os.listdir(out)) == sorted(store.DATASET_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "in"]  # no temporary left


def _tiny_phrases() -> store.PhraseSet:
    phrases = np.zeros((1, 4, 96, 128, 2), dtype=bool)
    manifest = [{"source": "x.mid", "first_bar": "0", "mode": "piano-hands", "segmentation": "bars"}]
    return store.PhraseSet(store.pack_phrases(phrases), manifest, [], {})


def test_empty_existing_folder_is_filled(prepare_group, midi_in, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    result = run(prepare_group, "music", midi_in, "--out", out, "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert len(load_dataset(out)) > 0


@pytest.mark.parametrize("exchange", [True, False])
def test_replacement_swaps_in_one_step_and_never_deletes_a_stray_file(tmp_path, monkeypatch, exchange):
    target = store.write_dataset(tmp_path / "ds", _tiny_phrases(), {})
    if not exchange:  # a platform without renameat2: move aside, then rename
        monkeypatch.setattr(store, "_exchange", lambda first, second: False)
    store.write_dataset(target, _tiny_phrases(), {"note": "second"}, force=True)
    assert json.loads((target / "metadata.json").read_text())["note"] == "second"
    assert sorted(os.listdir(tmp_path)) == ["ds"]
    # A replaced folder is deleted file by known file: something else found in it is kept.
    retired = tmp_path / "retired"
    shutil.copytree(target, retired)
    (retired / "added-meanwhile.txt").write_text("user")
    store._delete_dataset(retired, target)
    kept = tmp_path / f"ds.replaced-{os.getpid()}"
    assert sorted(os.listdir(kept)) == ["added-meanwhile.txt"] and not retired.exists()


# --- 2. leftovers of killed runs ---------------------------------------------------------------


@pytest.mark.slow  # subprocesses (a dead and a live pid)
def test_leftovers_of_dead_runs_are_removed_and_live_ones_kept(prepare_group, midi_in, tmp_path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    dead = finished.pid
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead_building": f".ds.building-{dead}",
            "dead_old": f".ds.old-{dead}-0a1b",
            "live_building": f".ds.building-{sleeper.pid}",
            "other_target": f".other.building-{dead}",
        }
        for name in names.values():
            (tmp_path / name).mkdir()
            (tmp_path / name / "data.npy").write_bytes(b"half")
        result = run(prepare_group, "music", midi_in, "--out", tmp_path / "ds", "--jobs", "1")
        assert result.exit_code == 0, result.output
        assert not (tmp_path / names["dead_building"]).exists()
        assert not (tmp_path / names["dead_old"]).exists()
        assert (tmp_path / names["live_building"] / "data.npy").is_file()
        assert (tmp_path / names["other_target"]).is_dir()
    finally:
        sleeper.kill()
        sleeper.wait()


# --- 3. hostile images ------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def zero_png(width: int, height: int, rows_per_block: int = 64) -> bytes:
    """A valid 8-bit RGB PNG of ``width x height`` black pixels, built without compressing it all.

    After a full flush zlib's output for the same input block repeats, so one compressed block is
    repeated and the Adler-32 of ``n`` zero bytes (``a = 1, b = n mod 65521``) is written by hand.
    """
    assert height >= rows_per_block
    row = 1 + 3 * width  # filter byte + RGB
    block = bytes(row * rows_per_block)
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(height, rows_per_block)
    tail = compressor.compress(bytes(row * rest)) + compressor.flush(zlib.Z_FINISH)
    adler = ((row * height) % 65521) << 16 | 1
    stream = first + again * (blocks - 1) + tail[:-4] + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", stream) + _chunk(b"IEND", b"")


def bmp_header(width: int, height: int) -> bytes:
    """A 24-bit BMP header claiming ``width x height``, followed by 100 bytes of pixels."""
    row = (3 * width + 3) // 4 * 4
    size = row * height & 0xFFFFFFFF
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, size, 2835, 2835, 0, 0)
    return struct.pack("<2sIHHI", b"BM", 154, 0, 0, 54) + info + bytes(100)


def test_zero_png_builder_makes_a_decodable_png(tmp_path):
    import cv2

    (tmp_path / "small.png").write_bytes(zero_png(300, 200))
    image = cv2.imread(str(tmp_path / "small.png"))
    assert image.shape == (200, 300, 3) and image.max() == 0


@pytest.fixture
def hostile_folder(tmp_path, shared_data) -> Path:
    """Two real paintings and four hostile files (see the test below)."""
    folder = tmp_path / "paintings"
    folder.mkdir()
    for path in sorted((shared_data / "paintings").glob("*.jpg"))[:2]:
        shutil.copy(path, folder / path.name)
    (folder / "a_bomb.png").write_bytes(zero_png(30000, 30000))  # 2.6 MB, 2.7 GB decoded
    (folder / "b_header_only.png").write_bytes(zero_png(12000, 12000)[:200])  # 144 MP, truncated
    (folder / "c_wide.bmp").write_bytes(bmp_header(2_000_000, 32))  # cv2.error: width over 2^20
    (folder / "d_giant.bmp").write_bytes(bmp_header(50_000, 50_000))  # over OpenCV's 2^30 pixels
    return folder


def test_hostile_images_are_skipped_from_their_header_and_good_ones_kept(
    prepare_group, hostile_folder, tmp_path
):
    result = run(prepare_group, "images", hostile_folder, "--out", tmp_path / "ds", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "wrote 2 paintings from 2 file(s)" in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    skips = {line.split(": ", 1)[0].rsplit("/", 1)[-1]: line for line in lines}
    assert set(skips) == {"a_bomb.png", "b_header_only.png", "c_wide.bmp", "d_giant.bmp"}
    assert "too large: header claims 900,000,000 pixels" in skips["a_bomb.png"]
    assert (
        "too large: 12000x12000 px = 144,000,000 pixels, above the limit of 100,000,000"
        in skips["b_header_only.png"]
    )
    assert "unreadable: OpenCV cannot decode it" in skips["c_wide.bmp"]
    assert "too large" in skips["d_giant.bmp"]
    assert len(load_dataset(tmp_path / "ds")) == 2


def test_dataset_factory_skips_hostile_images_too(hostile_folder):
    paintings = painting_dataset(hostile_folder, jobs=1)
    assert len(paintings) == 2
    assert sorted(Path(p).name for p, _ in paintings.skipped) == [
        "a_bomb.png",
        "b_header_only.png",
        "c_wide.bmp",
        "d_giant.bmp",
    ]
    with pytest.raises(DataError) as info:
        painting_dataset(hostile_folder / "c_wide.bmp", jobs=1)
    message = str(info.value)
    assert "\n" not in message and message.count("c_wide.bmp") == 1 and "OpenCV" in message


def test_pixel_limit_is_an_option(prepare_group, tmp_path):
    import cv2

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / "small.png"), rng.integers(0, 256, (100, 100, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / "large.png"), rng.integers(0, 256, (300, 300, 3), dtype=np.uint8))
    out = tmp_path / "ds"
    result = run(prepare_group, "images", folder, "--out", out, "--max-pixels", 50000, "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "large.png: too large: 300x300 px = 90,000 pixels, above the limit of 50,000" in result.stderr
    assert load_dataset(tmp_path / "ds").sources() == [str(folder / "small.png")]
    direct = painting_dataset(folder, max_pixels=50000, jobs=1)
    assert [Path(p).name for p, _ in direct.skipped] == ["large.png"]


# --- 5. file names in messages ----------------------------------------------------------------


def test_file_name_with_a_newline_is_shown_escaped_on_one_line(prepare_group, midi_in, tmp_path):
    (midi_in / "bad\nname.mid").write_text("not midi")
    result = run(prepare_group, "music", midi_in, "--out", tmp_path / "ds", "--jobs", "1")
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert skipped == [f"skipped {midi_in}/bad\\nname.mid: unreadable: not a MIDI file (no MThd header)"]


def test_a_single_unusable_file_is_named_once(prepare_group, tmp_path):
    (tmp_path / "only.mid").write_bytes(b"")
    result = run(prepare_group, "music", tmp_path / "only.mid", "--out", tmp_path / "ds")
    assert result.exit_code == 1
    assert error_lines(result.stderr) == [f"Error: {tmp_path / 'only.mid'}: unreadable: empty file (0 bytes)"]


# --- 6. a full disk ---------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [False, True])
def test_full_disk_is_one_error_line_and_leaves_nothing_behind(
    prepare_group, midi_in, tmp_path, monkeypatch, existing
):
    out = tmp_path / "ds"
    if existing:
        store.write_dataset(out, _tiny_phrases(), {})
    before = tree(out) if existing else None

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.np, "save", full_disk)
    force = ["--force"] if existing else []
    result = run(prepare_group, "music", midi_in, "--out", out, "--jobs", "1", *force)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and str(out) in lines[0] and "No space left on device" in lines[0]
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == (["ds", "in"] if existing else ["in"])
    if existing:
        assert tree(out) == before
