"""``crossmodal serve``: a local web page to try a generator.

The page uploads a condition file, shows the progress of its generation, the condition as the
model sees it and every file the recipe's writer (and renderer) made, by media type: images,
audio players, download links. Nothing here knows a modality, so any plugin's recipe gets a page.

:mod:`crossmodal.generation.web_app` is the Starlette app (it needs the ``serve`` extra: starlette,
uvicorn, python-multipart); :mod:`crossmodal.generation.web_jobs` the queue of generation jobs, one
worker thread and a temporary folder per server. See docs/serve.md.

For plugins, without the web stack: :func:`reading_upload` says whether the condition file being
read was uploaded to the page, so that a conditions dataset can hold uploads to stricter limits.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

__all__ = ["reading_upload", "upload_being_read"]

_UPLOAD: contextvars.ContextVar[bool] = contextvars.ContextVar("crossmodal_serve_upload", default=False)
"""True in the context (the job worker's thread) where the server reads an uploaded condition file."""


def reading_upload() -> bool:
    """Whether the condition file being read now is an upload to ``crossmodal serve``'s page.

    True only inside :func:`upload_being_read`, in the thread reading it: a conditions dataset
    may then apply stricter limits than for the user's own files (``prepare``, ``generate``), since
    the file comes from whoever can reach the page. Work the dataset hands to other processes does
    not see it.
    """
    return _UPLOAD.get()


@contextlib.contextmanager
def upload_being_read() -> Iterator[None]:
    """Within it, :func:`reading_upload` is True (in this thread; the server reads each upload in it)."""
    token = _UPLOAD.set(True)
    try:
        yield
    finally:
        _UPLOAD.reset(token)
