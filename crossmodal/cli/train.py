"""``crossmodal train``: train a plugin's recipe, or resume a run.

Under ``torchrun --nproc-per-node N -m crossmodal train ...`` every process runs this command;
the trainer joins the process group (see :mod:`crossmodal.distributed`) and only rank 0 prints.

SIGINT (Ctrl-C) or SIGTERM stops training at the next step boundary after a checkpoint; the
command then prints the resume command on stderr and exits with 130 or 143 (128 + the signal).
"""

from __future__ import annotations

import sys
from typing import Any, Mapping

import click

from .. import distributed
from ..errors import TrainingInterrupted
from ..skips import report_skipped
from ..trainer import resume_training, start_training
from ._group import plugins_of
from ._options import parse_key_values

__all__ = ["train"]


def _format_losses(losses: Mapping[str, float] | None) -> str:
    if not losses:
        return ""
    shown = {k: v for k, v in losses.items() if k in ("critic/wasserstein", "critic/gp", "generator/total")}
    return "  ".join(f"{k.split('/')[0][0]}:{k.split('/')[1]}={v:.3g}" for k, v in shown.items())


@click.command("train")
@click.option("--plugin", "plugin_name", metavar="NAME", help="Train the recipe named after this plugin.")
@click.option("--recipe", metavar="NAME", help="Train this recipe instead of the one named after the plugin.")
@click.option("--conditions", metavar="PATH", help="Conditions source (default: the plugin's embedded data).")
@click.option("--targets", metavar="PATH", help="Targets source (default: the plugin's embedded data).")
@click.option("-c", "--condition-option", multiple=True, metavar="KEY=VALUE", help="Option of the conditions dataset.")
@click.option("-t", "--target-option", multiple=True, metavar="KEY=VALUE", help="Option of the targets dataset.")
@click.option("--steps", type=click.IntRange(min=1), help="Generator updates in total.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Pairs per batch.")
@click.option("--device", metavar="auto|cpu|cuda", help="Where to train (auto: CUDA when available).")
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
    **overrides: Any,
) -> None:
    """Train a cross-modal GAN with WGAN-GP.

    Prints the run folder and the final metrics on stdout; progress goes to stderr. Training
    options are merged as: defaults < the recipe's < --config file < these options.

    With --resume the recorded options are the base instead; only steps, the eval, sample,
    checkpoint and log intervals, keep_checkpoints, divergence_bound and the device may change,
    and the recipe and data stay the run's. Ctrl-C or SIGTERM writes a checkpoint and prints the
    command that resumes the run.

    For data-parallel training launch it with ``torchrun --nproc-per-node N -m crossmodal train
    ...``: --batch-size is then the global batch, split evenly over the N processes.
    """

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
        if plugin_name is None:
            raise click.UsageError("give --plugin NAME (or --resume RUN_OR_CHECKPOINT)")
        broken = plugins.broken_plugin(plugin_name)
        if broken is not None:
            raise click.ClickException(broken.message)
        recipe_name = recipe or plugin_name
        known = registry.names("recipe")
        if recipe_name not in known:
            loaded = ", ".join(plugins.plugin_names()) or "none"
            what = (f"plugin {plugin_name!r} provides no recipe named {recipe_name!r}"
                    if plugin_name in plugins.plugin_names() or recipe
                    else f"no plugin named {plugin_name!r} is loaded (loaded plugins: {loaded})")
            listing = ", ".join(f"{n} (from {registry.get('recipe', n).plugin})" for n in known) or "none"
            raise click.ClickException(
                f"{what}. Available recipes: {listing}. Pick one with --recipe NAME; "
                "see `crossmodal list-components --kind recipe`."
            )
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
    report_skipped(trainer.job.conditions)
    report_skipped(trainer.job.targets)
    click.echo(f"run: {trainer.run_dir}")
    processes = f" x {trainer.world_size} processes" if trainer.world_size > 1 else ""
    click.echo(
        f"training {trainer.job.spec.recipe} on {trainer.device}{processes} from step {trainer.step} to "
        f"{trainer.config.steps}",
        err=True,
    )
    bar = click.progressbar(
        length=trainer.config.steps,
        label="training",
        file=sys.stderr,
        show_eta=True,
        show_pos=True,
        item_show_func=_format_losses,
    )
    stopped: TrainingInterrupted | None = None
    with bar:
        bar.update(trainer.step)
        trainer.progress = lambda step, total, losses: bar.update(step - bar.pos, losses)
        try:
            metrics = trainer.train()
        except TrainingInterrupted as err:
            stopped = err
        finally:
            trainer.close()
    if stopped is not None:
        click.echo(f"Interrupted: {stopped}", err=True)
        if stopped.resume_command is not None:
            click.echo(f"Resume with: {stopped.resume_command}", err=True)
        ctx.exit(stopped.exit_code)
    for name, value in trainer.last_losses.items():
        click.echo(f"{name}\t{value:.6g}")
    for name, value in metrics.items():
        click.echo(f"{name}\t{value:.6g}")
    if trainer.checkpoint_dir is not None:
        click.echo(f"checkpoint: {trainer.checkpoint_dir}")
