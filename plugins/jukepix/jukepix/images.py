"""Read a painting file and turn it into a square 256x256 RGB image with a colour score.

Public: :func:`read_image`, :func:`header_size`, :func:`crop_border`, :func:`centre_square`,
:func:`colour_variance`, :func:`prepare_painting`, :func:`pixel_limit`, :data:`IMAGE_SUFFIXES`,
:data:`MAX_PIXELS`, :data:`UPLOAD_MAX_PIXELS`, :data:`REDUCED_MIN_SIDE`.

Every array here is uint8 RGB ``(height, width, 3)`` unless stated; OpenCV's BGR order is
converted in :func:`read_image` and nowhere else. Failures raise
:class:`~crossmodal.storage.skips.SkipFile` with a one-line reason that does not repeat the file's name.

A file is never decoded before its header's size is checked against :data:`MAX_PIXELS` (a tiny
PNG can claim 30000 x 30000 pixels, 2.7 GB once decoded), and every decoder failure (OpenCV's
``cv2.error``, Pillow's errors, ``OSError``, running out of memory) is a skip of that file only.
The pixel-limit policy is here: :data:`MAX_PIXELS` by default, at most :data:`UPLOAD_MAX_PIXELS`
for a file uploaded to ``crossmodal serve`` (:func:`pixel_limit`); an image far larger than the
256x256 the model sees is decoded reduced (:data:`REDUCED_MIN_SIDE`).
"""

from __future__ import annotations

import re
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image

from .constants import IMAGE_SIZE
from crossmodal.generation.uploads import reading_upload
from crossmodal.storage.skips import SkipFile

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_ASPECT",
    "MAX_PIXELS",
    "MIN_SIDE",
    "REDUCED_MIN_SIDE",
    "UPLOAD_MAX_PIXELS",
    "centre_square",
    "colour_variance",
    "crop_border",
    "header_size",
    "pixel_limit",
    "prepare_painting",
    "read_image",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
"""File suffixes (lower case) collected when a folder of images is given."""

MAX_PIXELS = 100_000_000
"""Largest accepted image, in pixels (width x height as the file's header states): 100 megapixels,
e.g. a 10,000 x 10,000 scan, 300 MB once decoded to 8-bit RGB. Checked before decoding; larger
files are skipped as ``too large``. Callers may pass another limit (``max_pixels``); Pillow's own
decompression-bomb limit (``2 * PIL.Image.MAX_IMAGE_PIXELS``, 178,956,970 by default) still
applies above it."""

UPLOAD_MAX_PIXELS = 25_000_000
"""Largest image uploaded to ``crossmodal serve``'s page, in pixels: 25 megapixels (a 6,000 x 4,000
camera photo fits). The model sees 256x256, and the file comes from whoever can reach the page,
so an upload is held to this lower limit whatever ``max_pixels`` says (:func:`pixel_limit`)."""

REDUCED_MIN_SIDE = 8 * IMAGE_SIZE
"""An image is decoded at 1/2, 1/4 or 1/8 of its size, the largest reduction that keeps its shorter
side at least this long (2,048 px, 8 times the side the model sees); one whose shorter side is under
twice this is decoded at full size, so the result of every smaller image is unchanged."""

REDUCTIONS = (8, 4, 2)
"""The reductions OpenCV's JPEG decoder does while decoding (``cv2.IMREAD_REDUCED_COLOR_*``), largest first."""

_JPEG_READ = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
              8: cv2.IMREAD_REDUCED_COLOR_8}
"""Reduction -> the OpenCV flag decoding a JPEG at that fraction of its size (EXIF orientation
applied, CMYK and grey converted to colour, as ``cv2.IMREAD_COLOR``)."""

HEADER_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP")
"""Pillow formats whose headers are read for the size check: those of :data:`IMAGE_SUFFIXES`. A file
of any other format (whatever its suffix) is not decoded."""

MIN_SIDE = 32
"""Shortest usable side, in pixels, after the border crop; smaller images are degenerate."""

MAX_ASPECT = 4.0
"""Largest usable ratio of long side to short side; a more extreme image is a strip, not a painting."""

CANNY_LOW, CANNY_HIGH = 50, 150
"""Canny hysteresis thresholds on 8-bit grey levels."""

EDGE_ROW_FRACTION = 0.02
"""A row or column with at least this fraction of edge pixels is taken to be inside the picture."""

BORDER_STD_MAX = 12.0
"""A strip cut off as a border must be this uniform: grey-level standard deviation of its pixels <= 12."""

BORDER_MARGIN = 2
"""Pixels trimmed past a detected border, to drop the edge line between border and picture."""

WHITE = 255.0

JPEG_MAGIC = b"\xff\xd8"
JPEG_END, JPEG_SCAN = b"\xff\xd9", b"\xff\xda"


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale 16-bit (0-65535) or float (0-1) pixels to 8-bit levels, rounding to nearest."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    raise SkipFile("unreadable", f"unsupported pixel type {image.dtype}")


def header_size(handle: BinaryIO, max_pixels: int | None = None) -> tuple[int, int]:
    """``(width, height)`` in pixels from an image file's header, without decoding the pixels.

    Uses Pillow's lazy ``Image.open`` restricted to :data:`HEADER_FORMATS`; reads from the start
    of ``handle`` (an open binary file) and leaves its position anywhere.

    :param max_pixels: refuse a header claiming more pixels (``None``: no limit of ours).
    :raises SkipFile: ``too large`` (over ``max_pixels`` or over Pillow's decompression-bomb
        limit) or ``unreadable`` (no header of a known format, or a corrupt one).
    """
    handle.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(handle, formats=HEADER_FORMATS) as image:
                width, height = image.size
    except Image.DecompressionBombError as err:
        found = re.search(r"\((\d+) pixels\)", str(err))
        claimed = f"{int(found[1]):,}" if found else "more"
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        if max_pixels is not None and max_pixels < limit:
            detail = f"header claims {claimed} pixels, above the limit of {max_pixels:,}"
        else:
            detail = f"header claims {claimed} pixels, above Pillow's decompression-bomb limit of {limit:,}"
        raise SkipFile("too large", detail) from err
    except Image.UnidentifiedImageError as err:
        raise SkipFile(
            "unreadable", "not a decodable image (no JPEG, PNG, BMP, TIFF or WebP header)"
        ) from err
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError) as err:
        raise SkipFile("unreadable", f"not a decodable image (corrupt header: {_first_line(err)})") from err
    _check_pixels(width, height, max_pixels)
    return width, height


def pixel_limit(max_pixels: int | None) -> int | None:
    """The pixel limit that applies now: ``max_pixels``, or at most :data:`UPLOAD_MAX_PIXELS` while
    ``crossmodal serve`` reads an upload (:func:`crossmodal.generation.uploads.reading_upload`)."""
    if not reading_upload():
        return max_pixels
    return UPLOAD_MAX_PIXELS if max_pixels is None else min(max_pixels, UPLOAD_MAX_PIXELS)


def _reduction(width: int, height: int) -> int:
    """How many times smaller to decode a ``width x height`` image (1, 2, 4 or 8; see :data:`REDUCED_MIN_SIDE`)."""
    return next((factor for factor in REDUCTIONS if min(width, height) // factor >= REDUCED_MIN_SIDE), 1)


def _check_pixels(width: int, height: int, max_pixels: int | None) -> None:
    """Raise ``SkipFile("too large", ...)`` when ``width * height`` exceeds ``max_pixels``."""
    if max_pixels is not None and width * height > max_pixels:
        raise SkipFile(
            "too large", f"{width}x{height} px = {width * height:,} pixels, above the limit of {max_pixels:,}"
        )


def _first_line(err: BaseException) -> str:
    """A decoder's message on one line: cv2.error's own reason, else the first line of ``str(err)``."""
    text = getattr(err, "err", None) or str(err).strip()
    lines = str(text).splitlines()
    return (lines[0].strip() if lines else "") or type(err).__name__


def read_image(path: str | Path, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Decode an image file into uint8 RGB ``(height, width, 3)``, reduced when it is large.

    The header's size is checked first (:func:`header_size`): an image of more than
    ``max_pixels`` pixels (:func:`pixel_limit` of it) is refused before any pixel is decoded
    (``None``: no limit of ours). An image whose shorter side is at least twice
    :data:`REDUCED_MIN_SIDE` comes back 2, 4 or 8 times smaller (:func:`_decode`); any other
    at its own size. JPEG is decoded with ``cv2.IMREAD_COLOR`` (or a reduced ``cv2.IMREAD_REDUCED_COLOR_*``),
    which applies the EXIF orientation and converts CMYK and grey to colour; a JPEG without an end-of-image marker
    after its last scan is rejected as truncated. Other formats are decoded unchanged and then:
    16-bit levels scaled to 8-bit (``round(v * 255 / 65535)``), grey repeated to RGB, alpha
    composited on white (``rgb * a + 255 * (1 - a)``). Bytes are read from one open file (no second
    look-up by name), so non-ASCII names work and the file checked is the file decoded.

    :raises SkipFile: the file is missing, empty, too large, truncated or not a decodable image;
        any decoder error (``cv2.error``, Pillow's, ``MemoryError``) becomes one.
    """
    path = Path(path)
    max_pixels = pixel_limit(max_pixels)
    try:
        with path.open("rb") as handle:
            if not handle.read(1):
                raise SkipFile("unreadable", "empty file (0 bytes)")
            width, height = header_size(handle, max_pixels)
            handle.seek(0)
            raw = np.fromfile(handle, dtype=np.uint8)
    except OSError as err:
        raise SkipFile("unreadable", f"cannot read file ({err.strerror or _first_line(err)})") from err
    data = raw.tobytes()
    if data.startswith(JPEG_MAGIC) and data.rfind(JPEG_END) < data.rfind(JPEG_SCAN):
        raise SkipFile("unreadable", "truncated JPEG (no end-of-image marker after the last scan)")
    try:
        return _to_rgb(_to_uint8(_decode(raw, data.startswith(JPEG_MAGIC), _reduction(width, height), max_pixels)))
    except cv2.error as err:
        raise SkipFile("unreadable", f"OpenCV cannot decode it ({_first_line(err)})") from err
    except MemoryError as err:
        raise SkipFile("too large", f"{width}x{height} px: not enough memory to decode it") from err


def _decode(raw: np.ndarray, jpeg: bool, factor: int, max_pixels: int | None) -> np.ndarray:
    """OpenCV's decoding of the file's bytes ``raw``, ``factor`` times smaller (BGR, BGRA or grey).

    A JPEG is decoded reduced by libjpeg itself (``cv2.IMREAD_REDUCED_COLOR_*``), so its full size
    is never in memory; other formats are decoded unchanged at full size, then reduced with
    ``cv2.INTER_AREA`` before anything else is done with them. The decoder's own size is checked
    against ``max_pixels`` too (the header may differ from what the decoder finds).
    """
    image = cv2.imdecode(raw, _JPEG_READ[factor] if jpeg else cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise SkipFile("unreadable", "not a decodable image (or truncated)")
    scale = factor if jpeg else 1  # libjpeg rounds a reduced side up: (side - 1) * scale + 1 <= the full side
    _check_pixels((image.shape[1] - 1) * scale + 1, (image.shape[0] - 1) * scale + 1, max_pixels)
    if jpeg or factor == 1:
        return image
    height, width = image.shape[:2]
    return cv2.resize(image, (-(-width // factor), -(-height // factor)), interpolation=cv2.INTER_AREA)


def _to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 grey ``(h, w)``, BGR/BGRA ``(h, w, 3|4)`` or ``(h, w, 1)`` to RGB ``(h, w, 3)``."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:].astype(np.float32) / 255.0
        blended = image[:, :, :3].astype(np.float32) * alpha + WHITE * (1.0 - alpha)
        image = np.rint(blended).astype(np.uint8)
    elif image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB)


def _inner_span(edge_share: np.ndarray, strips: np.ndarray) -> tuple[int, int]:
    """First and one-past-last index of the picture along axis 0 of ``strips``.

    :param edge_share: per row (or column), the fraction of Canny edge pixels.
    :param strips: the grey image with that axis first, ``(n, m)``.
    """
    inside = np.flatnonzero(edge_share >= EDGE_ROW_FRACTION)
    if not len(inside):
        return 0, len(edge_share)
    first, last = int(inside[0]), int(inside[-1]) + 1
    if first and strips[:first].std() > BORDER_STD_MAX:
        first = 0
    if last < len(edge_share) and strips[last:].std() > BORDER_STD_MAX:
        last = len(edge_share)
    return first, last


def crop_border(image: np.ndarray) -> np.ndarray:
    """Cut a frame or plain border off ``image`` using Canny edges.

    Rows and columns from each side are dropped while they hold fewer than
    :data:`EDGE_ROW_FRACTION` Canny edge pixels (Canny on the grey image after a 3x3 Gaussian
    blur), and only if the dropped strip as a whole is uniform (grey standard deviation over
    all its pixels <= :data:`BORDER_STD_MAX`); the edge found where the border
    meets the picture is itself dropped with a :data:`BORDER_MARGIN` -pixel margin.

    :param image: uint8 RGB ``(h, w, 3)``.
    :returns: a view ``(h', w', 3)`` of the picture inside the border (``image`` itself when no
        border is found).
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (3, 3), 0), CANNY_LOW, CANNY_HIGH) > 0
    top, bottom = _inner_span(edges.mean(axis=1), grey)
    left, right = _inner_span(edges.mean(axis=0), grey.T)
    margins = [BORDER_MARGIN if cut else 0 for cut in (top, bottom < len(grey), left, right < grey.shape[1])]
    top, bottom = top + margins[0], bottom - margins[1]
    left, right = left + margins[2], right - margins[3]
    if bottom - top < MIN_SIDE or right - left < MIN_SIDE:
        return image
    return image[top:bottom, left:right]


def centre_square(image: np.ndarray) -> np.ndarray:
    """The largest square centred in ``image``: a view ``(s, s, 3)`` with ``s = min(h, w)``."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return image[top : top + side, left : left + side]


def colour_variance(image: np.ndarray) -> float:
    """Colour-variance score: mean over R, G, B of each channel's pixel variance.

    Computed on 8-bit levels of the 256x256 result, so the unit is (8-bit level)^2; a flat
    image scores 0, a half-black half-white one 16,256.25.
    """
    return float(image.reshape(-1, 3).astype(np.float64).var(axis=0).mean())


def prepare_painting(path: str | Path, max_pixels: int | None = MAX_PIXELS) -> tuple[np.ndarray, float]:
    """Read, de-border, square and resize one painting.

    :param max_pixels: refuse images larger than this before decoding (see :func:`read_image`); a
        large image is cropped and squared at the reduced size it is decoded at.
    :returns: uint8 RGB ``(IMAGE_SIZE, IMAGE_SIZE, 3)`` (resized with ``cv2.INTER_AREA``) and its
        :func:`colour_variance`.
    :raises SkipFile: unreadable or too large (see :func:`read_image`) or degenerate (too small, too
        elongated); an OpenCV error while cropping or resizing is a skip too.
    """
    image = read_image(path, max_pixels)
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise SkipFile("degenerate image", f"{width}x{height} px, shorter side below {MIN_SIDE} px")
    if max(height, width) / min(height, width) > MAX_ASPECT:
        raise SkipFile("degenerate image", f"{width}x{height} px, aspect ratio above {MAX_ASPECT:g}:1")
    try:
        square = centre_square(crop_border(image))
        resized = cv2.resize(square, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    except cv2.error as err:
        raise SkipFile("unreadable", f"OpenCV failed on it ({_first_line(err)})") from err
    except MemoryError as err:
        raise SkipFile("too large", f"{width}x{height} px: not enough memory to process it") from err
    return resized, colour_variance(resized)
