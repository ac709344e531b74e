"""Data-parallel training: two gloo processes on the CPU train the toy job like one process does.

One spawn of two processes (the toy plugin lives beside the tests and is not installed, so the
workers build the job through the core API instead of ``torchrun -m crossmodal``) trains the toy
recipe for 6 steps uninterrupted, then for 3 steps and, resumed from that checkpoint, to 6. Each
rank saves its final state; the test checks that the replicas are identical, that the resumed
run equals the uninterrupted one bit for bit, that one process with the same global batch ends
at the same weights (up to float rounding), and that only rank 0 wrote files.
"""

import csv
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import RecipeError  # noqa: E402
from crossmodal.training import distributed  # noqa: E402
from crossmodal.training import distributed  # noqa: E402
from crossmodal.job.build import build_job  # noqa: E402
from crossmodal.training.config import TrainConfig  # noqa: E402
from crossmodal.training.trainer import Trainer  # noqa: E402
from crossmodal.training.launch import resume_training, start_training  # noqa: E402

WORLD_SIZE = 2
GLOBAL_BATCH = 8  # 4 pairs per process
STEPS = 6  # the warm-up (2 steps) ends and checkpoints/evaluations (every 2) happen on both sides of the cut
CUT = 3

pytestmark = pytest.mark.slow  # every test spawns processes (mp.spawn, torchrun) and trains


def _options(out: Path, steps: int) -> dict:
    return {"steps": steps, "batch_size": GLOBAL_BATCH, "out_dir": str(out)}


def _state(trainer: Trainer) -> dict:
    return {
        "generator": {k: v.clone() for k, v in trainer.generator.state_dict().items()},
        "critic": {k: v.clone() for k, v in trainer.critic.state_dict().items()},
        "critic_adam": [s["exp_avg_sq"].clone() for s in trainer.critic_optimizer.state_dict()["state"].values()],
        "step": trainer.step,
        "critic_updates": trainer.critic_updates_done,
        "losses": dict(trainer.last_losses),
        "metrics": dict(trainer.last_metrics),
        "run_dir": str(trainer.run_dir),
    }


def _worker(rank: int, tmp: str) -> None:
    """One training process: joins a file-store gloo group, trains, saves its state to ``tmp``."""
    tmp_path = Path(tmp)
    distributed.init("cpu", init_method=f"file://{tmp_path / 'store'}", world_size=WORLD_SIZE, rank=rank)
    try:
        registry = toy_plugin.toy_registry()
        whole = start_training(registry, "toy", overrides=_options(tmp_path / "whole", STEPS))
        whole.train()
        first = start_training(registry, "toy", overrides=_options(tmp_path / "split", CUT))
        first.train()
        resumed = resume_training(registry, first.run_dir, overrides={"steps": STEPS})
        resumed.train()
        try:  # a global batch that does not split over the processes
            job = build_job(registry, toy_plugin.toy_recipe())
            Trainer(job, TrainConfig(batch_size=GLOBAL_BATCH + 1, device="cpu"))
            uneven = ""
        except RecipeError as err:
            uneven = str(err)
        torch.save(
            {"whole": _state(whole), "resumed": _state(resumed), "resumed_from": first.step,
             "world_size": whole.world_size, "main": whole.is_main_process, "uneven": uneven},
            tmp_path / f"rank{rank}.pt",
        )
    finally:
        distributed.teardown()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(str(tmp),), nprocs=WORLD_SIZE, join=True)
    return tmp, [torch.load(tmp / f"rank{r}.pt", weights_only=True) for r in range(WORLD_SIZE)]


def _assert_same(a: dict, b: dict, what: str, **tolerance) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        if tolerance:
            torch.testing.assert_close(value, b[key], **tolerance, msg=f"{what}.{key} differs beyond {tolerance}")
        else:
            assert torch.equal(value, b[key]), f"{what}.{key} differs"


def test_every_rank_ends_with_identical_replicas(ranks):
    _, (zero, one) = ranks
    assert zero["world_size"] == one["world_size"] == WORLD_SIZE
    assert zero["main"] and not one["main"]
    for run in ("whole", "resumed"):
        for module in ("generator", "critic"):
            _assert_same(zero[run][module], one[run][module], f"{run} {module}")
        assert all(torch.equal(a, b) for a, b in zip(zero[run]["critic_adam"], one[run]["critic_adam"]))
        assert zero[run]["losses"] == one[run]["losses"]  # averaged over the ranks before logging


def test_resuming_on_two_processes_equals_the_uninterrupted_run(ranks):
    _, (zero, one) = ranks
    for rank in (zero, one):
        assert rank["resumed_from"] == CUT
        whole, resumed = rank["whole"], rank["resumed"]
        assert resumed["step"] == whole["step"] == STEPS
        assert resumed["critic_updates"] == whole["critic_updates"]
        for module in ("generator", "critic"):
            _assert_same(whole[module], resumed[module], f"resumed {module}")
        assert resumed["losses"] == whole["losses"]
    assert zero["resumed"]["metrics"] == zero["whole"]["metrics"] != {}


def test_two_processes_train_like_one_with_the_same_global_batch(ranks, tmp_path):
    _, (zero, _) = ranks
    single = start_training(toy_plugin.toy_registry(), "toy", overrides=_options(tmp_path, STEPS))
    single.train()
    assert single.world_size == 1
    # Same batches, noise and penalty weights; only the order of float additions differs.
    for module in ("generator", "critic"):
        _assert_same(_state(single)[module], zero["whole"][module], f"single vs DDP {module}", rtol=1e-4, atol=1e-5)
    assert zero["whole"]["losses"] == pytest.approx(single.last_losses, rel=1e-3, abs=1e-4)
    assert zero["whole"]["metrics"] == pytest.approx(single.last_metrics, rel=1e-3, abs=1e-4)


def test_only_rank_zero_writes_and_evaluates(ranks):
    tmp, (zero, one) = ranks
    runs = list((tmp / "whole").iterdir())
    assert [str(p) for p in runs] == [zero["whole"]["run_dir"]] == [one["whole"]["run_dir"]]
    with open(runs[0] / "metrics.csv") as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [2, 4, 6]
    assert sorted(p.name for p in (runs[0] / "checkpoints").glob("*.pt")) == [
        "checkpoint-00000004.pt", "checkpoint-00000006.pt"]
    assert one["whole"]["metrics"] == {}


def test_a_global_batch_that_does_not_split_is_refused(ranks):
    _, (zero, one) = ranks
    for rank in (zero, one):
        assert f"batch_size {GLOBAL_BATCH + 1}" in rank["uneven"] and "2 processes" in rank["uneven"]


LAUNCHER = """
import sys
sys.path.insert(0, {tests!r})
import toy_plugin
from crossmodal.cli import make_cli
make_cli(extra_plugins=[("toy", toy_plugin)]).main(args=sys.argv[1:], prog_name="crossmodal")
"""


def test_torchrun_runs_the_train_command_on_two_processes(tmp_path):
    """torchrun's environment variables (WORLD_SIZE, RANK, LOCAL_RANK) start the process group."""
    import subprocess

    launcher = tmp_path / "toy_crossmodal.py"
    launcher.write_text(LAUNCHER.format(tests=str(Path(__file__).parent)))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               str(launcher), "train", "--plugin", "toy", "--steps", "2", "--out", str(tmp_path / "runs")]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("run: ") == 1 and result.stdout.count("checkpoint: ") == 1  # rank 0 only
    assert "on cpu x 2 processes from step 0 to 2" in result.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "checkpoints" / "checkpoint-00000002.pt").exists()

    uneven = subprocess.run(command[:-2] + ["--batch-size", "7", "--out", str(tmp_path / "uneven")],
                            check=False, capture_output=True, text=True, timeout=120)
    assert uneven.returncode != 0
    assert "Error: batch_size 7 (the global batch) cannot be split evenly over 2 processes" in uneven.stderr
    assert not (tmp_path / "uneven").exists() or not list((tmp_path / "uneven").iterdir())


def _teardown_worker(rank: int, tmp: str) -> None:
    """Rank 0 stays busy after the last collective (as when it evaluates and writes); rank 1 leaves at once."""
    import time

    tmp_path = Path(tmp)
    distributed.init("cpu", init_method=f"file://{tmp_path / 'store'}", world_size=WORLD_SIZE, rank=rank)
    model = distributed.wrap(torch.nn.Linear(2, 2), torch.device("cpu"))  # DDP keeps the gloo backend alive
    model(torch.ones(1, 2)).sum().backward()
    distributed.barrier()  # the last collective of the run
    if rank == 0:
        time.sleep(2.0)
        (tmp_path / "rank0-leaving").write_text("busy until now")
    distributed.teardown()
    # Whether rank 0 had finished its work when this rank left: a fact, not a clock reading.
    (tmp_path / f"rank{rank}-left").write_text(str((tmp_path / "rank0-leaving").exists()))
    assert not distributed.is_distributed()


def test_teardown_makes_the_processes_leave_together(tmp_path):
    """No process leaves (and exits) while another still works after the last collective."""
    mp.spawn(_teardown_worker, args=(str(tmp_path),), nprocs=WORLD_SIZE, join=True)
    assert (tmp_path / "rank1-left").read_text() == "True"  # rank 1 left only after rank 0 was done
    distributed.teardown()  # nothing to leave in this process
