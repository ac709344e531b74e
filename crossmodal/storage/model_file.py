"""Pretrained models: a trained generator shipped as one compact file, checked before it is read.

A plugin ships a model by registering a ``pretrained-model`` entry whose factory returns a
:class:`PretrainedModel` (the file inside the plugin's package, its SHA-256, and the document that
says how it was made). ``crossmodal export-model`` writes such a file from a checkpoint:

* ``format``: :data:`MODEL_FORMAT`;
* ``generator``: the generator's state dict (the averaged weights when the run kept an average),
  floating-point tensors stored as float16 (half the size of float32; the generator runs in
  float32 after loading);
* ``job`` (the :class:`~crossmodal.job.build.JobSpec` as JSON), ``plugins`` (name -> version when
  exported), ``generator_step`` and ``source`` (the checkpoint's file name), as in a checkpoint.

No critic, optimiser or random-number state: a model file generates, it does not resume.

Loading (:func:`load_model`) first compares the file's SHA-256 with the one the plugin recorded (a
changed or damaged file is refused before ``torch.load`` sees it), then reads it with
``torch.load(weights_only=True)``, and returns a document shaped like
:func:`crossmodal.storage.checkpoint.load_checkpoint`'s, so :func:`crossmodal.job.restore.restore` builds
and checks the generator the same way for both.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from crossmodal.errors import CheckpointError
from crossmodal.storage.files import shown

__all__ = ["MODEL_FORMAT", "PretrainedModel", "file_sha256", "load_model", "model_document"]

MODEL_FORMAT = "crossmodal-model/1"
"""The ``format`` entry of a model file (checked on load)."""

_REQUIRED = ("format", "generator", "job", "plugins", "generator_step")


@dataclass(frozen=True)
class PretrainedModel:
    """A generator a plugin ships, as its ``pretrained-model`` factory returns it.

    :param file: the model file (inside the plugin's installed package).
    :param sha256: the file's recorded SHA-256 (64 hex digits), checked at every load.
    :param card: where the model card is (a path in the repository, or a URL): how the weights
        were made, their metrics and conditioning figures.
    :param description: one line for ``list-components``.
    """

    file: Path
    sha256: str
    card: str = ""
    description: str = ""


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as 64 lower-case hex digits (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_document(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The model file's content for a loaded checkpoint (:func:`~crossmodal.storage.checkpoint.load_checkpoint`).

    The averaged generator when the checkpoint has one, else the trained one; floating-point
    tensors as float16 (integers, such as BatchNorm's batch counts, unchanged).
    """
    import torch

    key = "generator_average" if "generator_average" in checkpoint else "generator"
    weights = {
        name: tensor.detach().to(torch.float16) if tensor.is_floating_point() else tensor.detach().clone()
        for name, tensor in checkpoint[key].items()
    }
    return {
        "format": MODEL_FORMAT,
        "generator": weights,
        "job": json.dumps(checkpoint["job"], sort_keys=True),
        "plugins": dict(checkpoint["plugins"]),
        "generator_step": int(checkpoint["generator_step"]),
        "source": Path(str(checkpoint["path"])).name,
    }


def load_model(model: PretrainedModel, name: str) -> dict[str, Any]:
    """Read a shipped model file after checking its SHA-256.

    :param name: the model's registered name (for messages).
    :returns: ``job`` (parsed), ``plugins``, ``generator`` (float32), ``generator_step`` and
        ``path``: what :func:`crossmodal.job.restore.restore` needs.
    :raises CheckpointError: the file is missing, its SHA-256 is not the recorded one, it holds
        pickled objects other than tensors and plain values, or its layout is not a model file's.
    """
    import torch

    from crossmodal.storage.checkpoint import pickle_refusal

    path = Path(model.file)
    origin = f"model {name!r} ({shown(path)})"
    try:
        content = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"{origin}: cannot be read ({err.strerror or err}); reinstall its plugin") from err
    found = hashlib.sha256(content).hexdigest()
    if found != model.sha256.lower():
        raise CheckpointError(
            f"{origin}: SHA-256 {found[:16]}... is not the recorded {model.sha256[:16]}...; the file is damaged "
            "or was replaced, so it is not loaded (reinstall its plugin)"
        )
    try:
        document = torch.load(io.BytesIO(content), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # worded as load_checkpoint words it
        raise CheckpointError(f"{origin}: {pickle_refusal(err)}") from None
    except Exception as err:  # noqa: BLE001 - zip errors, a truncated file...
        raise CheckpointError(f"{origin}: cannot be read as a model file ({type(err).__name__})") from err
    if not isinstance(document, dict) or document.get("format") != MODEL_FORMAT:
        raise CheckpointError(f"{origin}: not a crossmodal model file (format {MODEL_FORMAT!r} expected)")
    missing = [key for key in _REQUIRED if key not in document]
    if missing:
        raise CheckpointError(f"{origin}: missing {', '.join(missing)}")
    try:
        document["job"] = json.loads(document["job"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{origin}: its job entry is not valid JSON ({err})") from err
    document["generator"] = {
        key: value.float() if value.is_floating_point() else value for key, value in document["generator"].items()
    }
    document["path"] = path
    return document
