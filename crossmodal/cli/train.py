"""``crossmodal train``: train a plugin's recipe, or resume a run.

Under ``torchrun --nproc-per-node N -m crossmodal train ...`` every process runs this command;
the trainer joins the process group (see :mod:`crossmodal.training.distributed`) and only rank 0 prints.

SIGINT (Ctrl-C) or SIGTERM is answered at once with one line, stops training after the current
update (see :mod:`crossmodal.training.trainer`) and writes a checkpoint; the command then prints the
resume command on stderr and exits with 130 or 143 (128 + the signal). A second signal stops at
once without saving and exits with 130, as Ctrl-C before training does (:mod:`._group`).

Progress (:class:`_Progress`, a callback of the trainer) counts every update, critic and generator
(:func:`~crossmodal.training.config.updates_through`): a bar on a terminal, else one plain line per
logging interval and at least every :data:`LOG_SECONDS` seconds. Its seconds per step and ETA
come from the recent rate of each kind of step (:class:`RecentRates`).

The trainer (and torch) is imported when the command runs: ``crossmodal train --help``, which
lists the installed recipes' defaults, imports no torch as long as the plugins' recipe modules
import none.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Any, Mapping, NoReturn

import click

from crossmodal.callbacks.base import Callback
from crossmodal.training.config import TrainConfig, critic_updates_for, resolve_config, updates_through
from crossmodal.errors import CrossmodalError, TrainingInterrupted
from crossmodal.storage.files import shown
from crossmodal.contract.recipe import Recipe
from crossmodal.storage.skips import report_skipped
from crossmodal.cli._group import INTERRUPTED_EXIT, plugins_of
from crossmodal.cli._options import parse_key_values

if TYPE_CHECKING:  # pragma: no cover
    from crossmodal.training.trainer import Trainer

__all__ = ["RecentRates", "train"]


LOG_SECONDS = 20.0
"""Longest wait between two plain progress lines when stderr is not a terminal."""


def _format_losses(losses: Mapping[str, float] | None) -> str:
    if not losses:
        return ""
    picked = {k: v for k, v in losses.items() if k in ("critic/wasserstein", "critic/gp", "generator/total")}
    return "  ".join(f"{k.split('/')[0][0]}:{k.split('/')[1]}={v:.3g}" for k, v in picked.items())


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class RecentRates:
    """Seconds per update of the two kinds of step, warm-up and after, each an exponential
    moving average over about the last ``2 / weight - 1`` steps of its kind, and the time left
    from them: the updates left of each kind times its rate.

    A kind not seen yet is estimated at the other kind's rate per update, so a warm-up step of
    20 critic updates and one generator update counts 21 / 6 times a later step of 5 and one.
    Pure: the caller measures the steps (:meth:`observe`).
    """

    def __init__(self, config: TrainConfig, weight: float = 0.2) -> None:
        self.config, self.weight = config, weight
        self.per_update: dict[bool, float] = {}  # warm-up? -> seconds per update

    def _warm(self, step: int) -> bool:
        return step < self.config.warmup_generator_steps

    def observe(self, step: int, updates: int, seconds: float) -> None:
        """Generator step ``step`` (counted from 0) ran ``updates`` updates in ``seconds``."""
        rate, old = seconds / updates, self.per_update.get(self._warm(step))
        self.per_update[self._warm(step)] = rate if old is None else old + self.weight * (rate - old)

    def _rate(self, warm: bool) -> float:
        """Seconds per update of one kind (the other kind's until it is seen)."""
        return self.per_update[warm] if warm in self.per_update else self.per_update[not warm]

    def seconds_per_step(self, step: int) -> float | None:
        """Expected seconds of generator step ``step`` (``None`` before any step was observed)."""
        if not self.per_update:
            return None
        return self._rate(self._warm(step)) * (critic_updates_for(step, self.config) + 1)

    def remaining(self, done: int, last: int) -> float | None:
        """Seconds until generator step ``last`` is done, with ``done`` updates (critic and
        generator, :func:`~crossmodal.training.config.updates_through`) done (``None`` before any step
        was observed)."""
        if not self.per_update:
            return None
        config = self.config
        warm_left = max(0, updates_through(min(last, config.warmup_generator_steps), config) - done)
        later_left = max(0, updates_through(last, config) - done) - warm_left
        return warm_left * self._rate(True) + later_left * self._rate(False)


class _Progress(Callback):
    """Training progress on ``stream``, counting critic and generator updates alike; while entered,
    one of ``trainer.callbacks``.

    On a terminal: a click progress bar over every update, with the generator step, seconds per
    generator step and the ETA (:class:`RecentRates`, fed each step's training time:
    evaluations, samples and checkpoints left out) and the losses. Elsewhere (a log file, a
    pipe): one plain line per logging interval, and one at least every :data:`LOG_SECONDS`
    seconds while a long run of critic updates goes on.
    """

    def __init__(self, trainer: Trainer, stream: IO[str]) -> None:
        config = trainer.config
        self.trainer, self.stream = trainer, stream
        self.steps = config.steps
        self.total = updates_through(config.steps, config)
        self.done = self.step_began = trainer.updates_done
        self.timed_step = trainer.step  # the step whose updates began at ``step_began``
        self.rates = RecentRates(config)
        self.last_line = time.monotonic()
        self.losses: Mapping[str, float] = {}
        self.bar = None
        if stream.isatty():
            self.bar = click.progressbar(length=self.total, label="training", file=stream, show_pos=False,
                                         show_eta=False, item_show_func=lambda _: self.status())

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
            self.bar.update(self.done)
        self.trainer.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.trainer.callbacks.remove(self)
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def status(self) -> str:
        """``step 3/100  updates 153/5400  0.52 s/step  ETA 0:12:34  c:wasserstein=...``"""
        left = self.rates.remaining(self.done, self.steps)
        eta = "?" if left is None else _duration(left)
        per_step = self.rates.seconds_per_step(self.trainer.step)
        parts = [f"step {self.trainer.step}/{self.steps}", f"updates {self.done}/{self.total}",
                 "? s/step" if per_step is None else f"{per_step:.3g} s/step", f"ETA {eta}",
                 _format_losses(self.losses)]
        return "  ".join(part for part in parts if part)

    def on_update(self, trainer: Trainer) -> None:
        """After every update: time a finished step, move the bar, or print a line when none
        came for LOG_SECONDS."""
        self.done = done = trainer.updates_done
        if trainer.step != self.timed_step:
            self.rates.observe(self.timed_step, done - self.step_began, trainer.step_seconds)
            self.timed_step, self.step_began = trainer.step, done
        now = time.monotonic()
        if self.bar is not None:
            if now - self.last_line >= 0.2 or done >= self.total:  # redraw at most 5 times a second
                self.bar.update(done - self.bar.pos)
                self.last_line = now
        elif now - self.last_line >= LOG_SECONDS:
            self._line(now)

    def on_flush(self, trainer: Trainer, losses: Mapping[str, float]) -> None:
        """Every logging interval: new losses and seconds per step."""
        self.losses = losses
        if self.bar is not None:
            if self.done > self.bar.pos:
                self.bar.update(self.done - self.bar.pos)
            else:
                self.bar.render_progress()  # update(0) would not redraw the new losses
        else:
            self._line(time.monotonic())

    def _line(self, now: float) -> None:
        click.echo(self.status(), file=self.stream)
        self.last_line = now


def _exit_stopped(ctx: click.Context, trainer: Trainer, stopped: TrainingInterrupted | KeyboardInterrupt) -> NoReturn:
    """Say how a signal stopped training and exit: after one, the checkpoint written and the
    resume command (128 + the signal); after a second, that nothing was saved (130, as Ctrl-C
    elsewhere)."""
    if isinstance(stopped, TrainingInterrupted):
        click.echo(f"Interrupted: {stopped}", err=True)
        if stopped.resume_command is not None:
            click.echo(f"Resume with: {stopped.resume_command}", err=True)
        ctx.exit(stopped.exit_code)
    saved = trainer.last_checkpoint
    last = ("no checkpoint had been written yet" if saved is None else
            f"the last checkpoint is {shown(saved)} (--resume {shown(trainer.run_dir)} continues from it)")
    click.echo(f"Stopped at once, without saving; {last}", err=True)
    ctx.exit(INTERRUPTED_EXIT)


def _recipe_defaults(ctx: click.Context) -> list[str]:
    """``NAME: steps S, batch size B`` for each installed recipe (none when plugins fail to load)."""
    try:
        registry = plugins_of(ctx).registry
        lines = []
        for name in registry.names("recipe"):
            try:
                recipe = registry.create("recipe", name)  # not build.get_recipe, which imports torch
                if not isinstance(recipe, Recipe):
                    continue
                config = resolve_config(recipe.training, recipe_name=name)
            except CrossmodalError:
                continue
            lines.append(f"{name} (from {registry.get('recipe', name).plugin}): steps {config.steps}, "
                         f"batch size {config.batch_size}")
        return lines
    except Exception:  # noqa: BLE001 - help must show even when a plugin is broken
        return []


class _TrainCommand(click.Command):
    """``train``, whose help ends with the installed recipes' default steps and batch size."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        lines = _recipe_defaults(ctx)
        if lines:
            formatter.write_paragraph()
            formatter.write_text("Installed recipes and their defaults:")
            with formatter.indentation():
                for line in lines:
                    formatter.write_text(line)
        super().format_epilog(ctx, formatter)


def _recipe_to_train(plugins: Any, plugin_name: str | None, recipe: str | None) -> str:
    """The recipe that ``--plugin`` and/or ``--recipe`` name.

    ``--recipe`` alone: that recipe, whichever plugin provides it; ``--plugin`` alone: the recipe
    named after the plugin; both: the recipe, which must come from that plugin.
    """
    registry = plugins.registry
    if plugin_name is None and recipe is None:
        raise click.UsageError("give --plugin NAME or --recipe NAME (or --resume RUN_OR_CHECKPOINT)")
    if plugin_name is not None:
        broken = plugins.broken_plugin(plugin_name)
        if broken is not None:
            raise click.ClickException(broken.message)
    recipe_name = recipe or plugin_name
    known = registry.names("recipe")
    if recipe_name not in known:
        loaded = ", ".join(plugins.plugin_names()) or "none"
        if recipe is not None and plugin_name is None:
            what = f"no recipe named {recipe_name!r} is registered"
        elif plugin_name in plugins.plugin_names() or recipe:
            what = f"plugin {plugin_name!r} provides no recipe named {recipe_name!r}"
        else:
            what = f"no plugin named {plugin_name!r} is loaded (loaded plugins: {loaded})"
        listing = ", ".join(f"{n} (from {registry.get('recipe', n).plugin})" for n in known) or "none"
        raise click.ClickException(
            f"{what}. Available recipes: {listing}. Pick one with --recipe NAME; "
            "see `crossmodal list-components --kind recipe`."
        )
    provider = registry.get("recipe", recipe_name).plugin
    if plugin_name is not None and recipe is not None and provider != plugin_name:
        raise click.ClickException(
            f"recipe {recipe_name!r} comes from plugin {provider!r}, not {plugin_name!r}: "
            f"give --recipe {recipe_name} alone (or --plugin {provider})"
        )
    return recipe_name


@click.command("train", cls=_TrainCommand)
@click.option("--plugin", "plugin_name", metavar="NAME",
              help="Train the recipe named after this plugin (with --recipe: the plugin that provides it).")
@click.option("--recipe", metavar="NAME",
              help="Train this recipe (alone: whichever plugin provides it; default: the one named after --plugin).")
@click.option("--conditions", metavar="PATH", help="Conditions source (default: the plugin's embedded data).")
@click.option("--targets", metavar="PATH", help="Targets source (default: the plugin's embedded data).")
@click.option("-c", "--condition-option", multiple=True, metavar="KEY=VALUE", help="Option of the conditions dataset.")
@click.option("-t", "--target-option", multiple=True, metavar="KEY=VALUE", help="Option of the targets dataset.")
@click.option("--steps", type=click.IntRange(min=1),
              help="Generator updates in total (default: the recipe's, listed below).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Pairs per batch (default: the recipe's, listed below).")
@click.option("--device", metavar="auto|cpu|cuda", help="Where to train (default: auto, CUDA when available).")
@click.option("--seed", type=int, help="Seed of every random number generator.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder in which the run folder is made.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON or TOML file of training options (over the recipe's, under these options).")
@click.option("--resume", type=click.Path(exists=True), metavar="RUN_OR_CHECKPOINT",
              help="Continue a run from its latest checkpoint (or from this checkpoint file).")
@click.option("--bf16/--no-bf16", default=None, help="bfloat16 autocast (the gradient penalty stays float32).")
@click.option("--eval-every", type=click.IntRange(min=0), help="Generator updates between evaluations.")
@click.option("--sample-every", type=click.IntRange(min=0), help="Generator updates between written samples.")
@click.option("--checkpoint-every", type=click.IntRange(min=0), help="Generator updates between checkpoints.")
@click.option("-v", "--verbose", is_flag=True,
              help="List every skipped input file (default: one summary line per dataset).")
@click.pass_context
def train(
    ctx: click.Context,
    plugin_name: str | None,
    recipe: str | None,
    conditions: str | None,
    targets: str | None,
    condition_option: tuple[str, ...],
    target_option: tuple[str, ...],
    config_file: str | None,
    resume: str | None,
    verbose: bool,
    **overrides: Any,
) -> None:
    """Train a cross-modal GAN with WGAN-GP.

    Prints the run folder, the final losses and a table of the final metrics (metric, generated,
    real) on stdout; progress goes to stderr. Training options are merged as: defaults < the
    recipe's < --config file < these options. Give --plugin NAME, --recipe NAME or both.

    With --resume the recorded options are the base instead; only steps, the eval, sample,
    checkpoint and log intervals, keep_checkpoints, divergence_bound and the device may change,
    and the recipe and data stay the run's; a run already at its steps trains nothing. Ctrl-C
    or SIGTERM stops after the current update, writes a checkpoint and prints the command that
    resumes the run; a second one stops at once without saving.

    For data-parallel training launch it with "torchrun --nproc-per-node N -m crossmodal train
    ...": --batch-size is then the global batch, split evenly over the N processes.
    """

    from crossmodal.training import distributed
    from crossmodal.training.launch import resume_training, start_training

    ctx.call_on_close(distributed.teardown)  # leave the process group however the command ends
    plugins = plugins_of(ctx)
    registry = plugins.registry
    versions = {p.name: p.version for p in plugins.loaded}
    if resume is not None:
        trainer = resume_training(
            registry,
            resume,
            config_file=config_file,
            overrides=overrides,
            recipe_name=recipe or plugin_name,
            condition_source=conditions,
            target_source=targets,
            condition_options=parse_key_values(condition_option, "--condition-option"),
            target_options=parse_key_values(target_option, "--target-option"),
            plugin_versions=versions,
        )
    else:
        recipe_name = _recipe_to_train(plugins, plugin_name, recipe)
        trainer = start_training(
            registry,
            recipe_name,
            condition_source=conditions,
            target_source=targets,
            condition_options=parse_key_values(condition_option, "--condition-option"),
            target_options=parse_key_values(target_option, "--target-option"),
            config_file=config_file,
            overrides=overrides,
            plugin_versions=versions,
        )
    if not trainer.is_main_process:  # another rank of a distributed run: train quietly
        try:
            trainer.train()
        except TrainingInterrupted as stopped:
            ctx.exit(stopped.exit_code)
        finally:
            trainer.close()
        return
    for warning in trainer.warnings:
        click.echo(f"Warning: {warning}", err=True)
    for role in ("conditions", "targets"):
        report_skipped(getattr(trainer.job, role), details=verbose,
                       hint=f"{role}; --verbose lists them" if not verbose else role)
    click.echo(f"run: {trainer.run_dir}")
    if trainer.step >= trainer.config.steps:
        trainer.close()
        click.echo(f"Nothing to train: the run is already complete at step {trainer.step} of "
                   f"{trainer.config.steps}. To train it further, resume with --steps N, N > {trainer.step}.",
                   err=True)
        return
    processes = f" x {trainer.world_size} processes" if trainer.world_size > 1 else ""
    click.echo(
        f"training {trainer.job.spec.recipe} on {trainer.device}{processes} from step {trainer.step} to "
        f"{trainer.config.steps}",
        err=True,
    )
    stopped: TrainingInterrupted | KeyboardInterrupt | None = None
    with _Progress(trainer, sys.stderr):
        try:
            metrics = trainer.train()
        except (TrainingInterrupted, KeyboardInterrupt) as err:  # KeyboardInterrupt: a second signal
            stopped = err
        finally:
            trainer.close()
    if stopped is not None:
        _exit_stopped(ctx, trainer, stopped)
    for name, value in trainer.last_losses.items():
        click.echo(f"{name}\t{value:.6g}")
    if metrics:
        real = trainer.real_metrics or {}
        click.echo("metric\tgenerated\treal")
        for name, value in metrics.items():
            paired = real.get(f"real/{name}")
            click.echo(f"{shown(name)}\t{value:.6g}\t{'-' if paired is None else f'{paired:.6g}'}")
    if trainer.checkpoint_dir is not None:
        click.echo(f"checkpoint: {trainer.checkpoint_dir}")
