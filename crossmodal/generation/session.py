"""Generating from a trained generator: load it once, then write samples for condition files.

:func:`open_generation` loads a generator from a checkpoint (a run folder or a checkpoint file) or
from a plugin's pretrained model (:mod:`crossmodal.storage.model_file`), together with what its job
records: the conditions dataset that reads a condition file, the sample writer and, when asked
to render, the sample renderer. ``crossmodal generate`` and ``crossmodal serve`` both use it.

Nothing here knows a modality: a condition file is whatever the recorded conditions dataset
reads, and the files written are whatever its writer and renderer write.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from crossmodal.contract.recipe import ComponentSpec
from crossmodal.contract.registry import Registry
from crossmodal.errors import DataError, OutputError, RecipeError
from crossmodal.contract.components import create_component
from crossmodal.job.generator import ConditionalGenerator
from crossmodal.job.restore import restore
from crossmodal.storage.checkpoint import load_checkpoint
from crossmodal.storage.files import leftover_name, remove_leftovers, shown
from crossmodal.storage.model_file import PretrainedModel, load_model
from crossmodal.storage.outputs import claim_new
from crossmodal.storage.runs import run_dir_of
from crossmodal.training.config import resolve_device

__all__ = ["Generation", "default_model_name", "open_generation"]

_STAGING = "generate"
"""Base name of a generation's private folder inside the output folder (``.generate.building-<pid>``)."""


@dataclass
class Generation:
    """A loaded generator with the components its job records.

    :param generator: the generator, in evaluation mode, on its device.
    :param recipe: the recorded recipe's name.
    :param source: what was loaded, for messages: ``checkpoint PATH`` or ``model NAME``.
    :param run_dir: the checkpoint's run folder (``None`` for a pretrained model).
    :param make_conditions: ``make_conditions(file)`` -> the recorded conditions dataset reading
        one file (raises :class:`~crossmodal.errors.DataError` for a file it cannot use).
    :param writer: the recorded sample writer.
    :param renderer: the sample renderer, when rendering was asked for, else ``None``.
    :param recorded_plugins: plugin name -> version when the checkpoint or model was saved.
    """

    generator: ConditionalGenerator
    recipe: str
    source: str
    run_dir: Path | None
    make_conditions: Callable[[str | Path], Any]
    writer: Any
    renderer: Any = None
    recorded_plugins: dict[str, str] = field(default_factory=dict)

    @property
    def renderer_engine(self) -> str | None:
        """The renderer's one-line engine (``"fluidsynth (...)"``), or ``None`` without a renderer."""
        return None if self.renderer is None else str(self.renderer.engine)

    def conditions(self, condition_file: str | Path) -> Any:
        """The conditions dataset read from one file, checked against the generator.

        :raises DataError: the file cannot be used (naming it and the cause), holds no item, or its
            items do not have the shape the generator takes.
        """
        data = self.make_conditions(condition_file)
        if len(data) == 0:
            raise DataError(f"{shown(condition_file)}: no usable condition in it")
        if tuple(data.sample_shape) != self.generator.condition_shape:
            raise DataError(f"{shown(condition_file)}: read as shape {tuple(data.sample_shape)}, the generator "
                            f"takes {self.generator.condition_shape}")
        return data

    def generate(self, condition_file: str | Path, out: str | Path, *, samples: int = 1, seed: int = 0,
                 render: bool = False, notify: Callable[[str], None] | None = None) -> list[Path]:
        """Write ``samples`` samples for each condition in ``condition_file`` into ``out``:
        :meth:`write_samples` of :meth:`conditions`, named after the file.

        :raises DataError: the condition file cannot be used.
        """
        return self.write_samples(self.conditions(condition_file), Path(condition_file).stem, out, samples=samples,
                                  seed=seed, render=render, notify=notify)

    def write_samples(self, data: Any, stem: str, out: str | Path, *, samples: int = 1, seed: int = 0,
                      render: bool = False, notify: Callable[[str], None] | None = None) -> list[Path]:
        """Write ``samples`` samples for each condition of ``data`` (from :meth:`conditions`) into
        ``out``, named ``stem``, ``stem-0``...

        The writer (and with ``render`` the renderer) writes into a private folder; the files are
        then moved into ``out`` under names that did not exist (crossmodal.storage.outputs), so nothing
        there is overwritten. Not for two threads at once on one :class:`Generation`.

        :param seed: seeds the noise: the same file, seed and count give the same samples.
        :param notify: called with one line when a name in ``out`` was taken and the files were
            numbered instead.
        :returns: the paths written, in order.
        :raises RecipeError: ``render`` without a renderer (see :func:`open_generation`).
        :raises OutputError: a file could not be written.
        """
        if render and self.renderer is None:
            raise RecipeError(f"{self.source}: opened without its sample renderer; open it with render=True")
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        remove_leftovers(out, [_STAGING])  # private folders of killed runs
        staging = leftover_name(out / _STAGING, "building")
        rng = torch.Generator().manual_seed(seed)
        device = next(self.generator.parameters()).device
        try:
            conditions = data.batch(torch.arange(len(data))).to(device)
            generated = self.generator.generate(conditions, samples, rng).float().cpu()  # (B, k, *sample_shape)
            return _write_new(self.writer, generated, stem, out, staging, self.renderer if render else None, notify)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @staticmethod
    def condition_preview(data: Any, stem: str, out: str | Path) -> Path | None:
        """A picture of the first condition of ``data`` (from :meth:`conditions`) as the generator
        sees it, when the conditions dataset can draw one (an optional ``write_preview(index, path)``
        method), else ``None``.

        :returns: the file written in ``out``, ``<stem>-condition`` plus the dataset's suffix
            (never over another file).
        """
        write_preview = getattr(data, "write_preview", None)
        if write_preview is None:
            return None
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        return Path(write_preview(0, out / f"{stem}-condition"))


def default_model_name(registry: Registry) -> str:
    """The one registered pretrained model, used when neither a checkpoint nor a model is named.

    :raises RecipeError: no plugin ships a model, or several do (naming them).
    """
    names = registry.names("pretrained-model")
    if len(names) == 1:
        return names[0]
    if not names:
        raise RecipeError("no installed plugin ships a pretrained model: give --checkpoint RUN (a trained run)")
    raise RecipeError(f"several pretrained models are installed ({', '.join(names)}): choose one with --model NAME")


def open_generation(registry: Registry, *, checkpoint: str | Path | None = None, model: str | None = None,
                    device: Any = "auto", render: bool = False) -> Generation:
    """Load a generator and the components its job records, checking every recorded option first
    (:func:`crossmodal.job.restore.restore`).

    :param checkpoint: a run folder (its latest checkpoint) or a checkpoint file.
    :param model: a registered ``pretrained-model`` name; with neither, the one installed
        (:func:`default_model_name`).
    :param device: ``"auto"``, ``"cpu"``, ``"cuda"``... (:func:`crossmodal.training.config.resolve_device`).
    :param render: also build the sample renderer (the recorded one, or for an older checkpoint
        the one its recipe names now).
    :raises CheckpointError: the file cannot be read, is refused, or records what cannot be built.
    :raises RecipeError: both ``checkpoint`` and ``model`` given, an unknown model, or ``render``
        for a recipe with no renderer.
    """
    if checkpoint is not None and model is not None:
        raise RecipeError("give either a checkpoint or a model, not both")
    if checkpoint is not None:
        document = load_checkpoint(checkpoint)
        source = origin = f"checkpoint {shown(document['path'])}"
        run_dir = run_dir_of(Path(document["path"]))
    else:
        name = model if model is not None else default_model_name(registry)
        shipped = create_component(registry, "pretrained-model", ComponentSpec(name), f"model {name!r}",
                                   expected=PretrainedModel)
        document = load_model(shipped, name)
        source, run_dir = f"model {name!r}", None
        origin = f"{source} ({shown(document['path'])})"  # as load_model names it
    parts = ("generator", "writer", "read_conditions", *(("renderer",) if render else ()))
    restored = restore(registry, document, parts=parts, device=resolve_device(device), origin=origin)
    return Generation(restored.generator, restored.spec.recipe, source, run_dir, restored.read_conditions,
                      restored.writer, restored.renderer, dict(document.get("plugins", {})))


def _write_new(writer, generated: torch.Tensor, stem: str, out: Path, staging: Path, renderer=None,
               notify: Callable[[str], None] | None = None) -> list[Path]:
    """Let ``writer`` write one condition file's samples ``(B, k, *sample_shape)`` into ``staging``
    (and ``renderer``, if given, render them there), then move them into ``out`` under names that
    did not exist (one shared number when any is taken, rendered files included; see
    crossmodal.storage.outputs).

    Neither sees ``out``, so whatever they do, nothing already there is overwritten.
    """
    staging.mkdir(parents=True)
    made: list[Path] = []
    for item in range(generated.shape[0]):
        prefix = stem if generated.shape[0] == 1 else f"{stem}-{item}"
        files = [Path(p) for p in writer.write(generated[item], staging, prefix)]  # the writer numbers samples
        made += files
        if renderer is not None and files:
            rendered = [Path(p) for p in renderer.render(files)]
            if not rendered:
                raise OutputError(
                    f"the sample renderer ({shown(str(renderer.engine))}) rendered none of the files the sample "
                    f"writer wrote for {shown(prefix)} ({', '.join(shown(f.name) for f in files)})"
                )
            made += rendered
    if not made:
        raise OutputError(f"{shown(out)}: the sample writer wrote no file for {shown(stem)}")
    pairs, elsewhere = [], []
    for path in made:
        try:
            relative = path.relative_to(staging)
        except ValueError:  # a writer that wrote outside the folder it was given
            elsewhere.append(path)
            continue
        wanted = out / relative
        wanted.parent.mkdir(parents=True, exist_ok=True)
        pairs.append((path, wanted))
    final = claim_new(pairs)
    if notify is not None and final and final[0] != pairs[0][1]:
        taken = next((wanted for _, wanted in pairs if wanted.exists()), pairs[0][1])  # the first name taken
        suffix = final[0].stem[len(pairs[0][1].stem):]
        notify(f"note: {shown(taken.name)} already exists in {shown(out)}; this condition's files are written "
               f"with the suffix {suffix} instead ({shown(final[0].name)}...), nothing was overwritten")
    return final + elsewhere
