"""``prepare music`` / ``prepare images`` through click's CliRunner, attached to a fresh group."""

from __future__ import annotations

import shutil

import click
import pytest
from click.testing import CliRunner

from jukepix.commands import add_prepare_commands
from jukepix.store import load_dataset


@pytest.fixture
def prepare_group() -> click.Group:
    group = click.Group("prepare")
    add_prepare_commands(group)
    return group


def test_commands_are_added(prepare_group):
    assert sorted(prepare_group.commands) == ["images", "music"]


def test_music_command_writes_dataset_and_reports_skips(prepare_group, tmp_path, shared_data):
    (tmp_path / "in").mkdir()
    shutil.copy(shared_data / "midi" / "nottingham__hpps1.mid", tmp_path / "in")
    (tmp_path / "in" / "bad.mid").write_text("not midi")
    out = tmp_path / "ds"
    result = CliRunner().invoke(
        prepare_group,
        [
            "music",
            str(tmp_path / "in"),
            "--out",
            str(out),
            "--mode",
            "melody-chords",
            "--segmentation",
            "structural",
            "--jobs",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "from 1 file(s)" in result.stdout
    assert "skipped 1 file(s): unreadable 1" in result.stdout
    assert f"skipped {tmp_path / 'in' / 'bad.mid'}: unreadable: not a MIDI file" in result.stderr
    assert load_dataset(out).meta["segmentation"] == "structural"


def test_music_command_exits_1_when_nothing_is_usable(prepare_group, tmp_path):
    (tmp_path / "bad.mid").write_bytes(b"")
    result = CliRunner().invoke(
        prepare_group, ["music", str(tmp_path / "bad.mid"), "--out", str(tmp_path / "ds")]
    )
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "bad.mid: unreadable: empty file" in result.stderr
    assert not (tmp_path / "ds").exists()


def test_music_command_rejects_unknown_mode(prepare_group, tmp_path):
    result = CliRunner().invoke(
        prepare_group, ["music", str(tmp_path), "--out", str(tmp_path / "ds"), "--mode", "organ"]
    )
    assert result.exit_code == 2 and "piano-hands" in result.stderr


@pytest.mark.slow  # subprocesses: a pool of 2 worker processes (--jobs 2)
def test_images_command(prepare_group, tmp_path, shared_data):
    (tmp_path / "in").mkdir()
    for path in sorted((shared_data / "paintings").glob("*.jpg"))[:3]:
        shutil.copy(path, tmp_path / "in")
    (tmp_path / "in" / "empty.png").write_bytes(b"")
    result = CliRunner().invoke(
        prepare_group,
        ["images", str(tmp_path / "in"), "--out", str(tmp_path / "ds"), "--top-k", "2", "--jobs", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 2 paintings from 2 file(s)" in result.stdout
    assert "empty.png: unreadable: empty file" in result.stderr
    assert len(load_dataset(tmp_path / "ds")) == 2
