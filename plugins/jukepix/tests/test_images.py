"""Decoding odd image files, border cropping, squaring and the colour-variance score."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from jukepix.constants import IMAGE_SIZE
from jukepix.images import centre_square, colour_variance, crop_border, prepare_painting, read_image
from crossmodal.storage.skips import SkipFile


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A busy RGB picture: smooth colour gradients plus noise (uint8 ``(h, w, 3)``)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], axis=2)
    return np.clip(base + rng.integers(-40, 40, (height, width, 3)), 0, 255).astype(np.uint8)


def save_rgb(path, rgb: np.ndarray) -> None:
    ok, encoded = cv2.imencode(path.suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    encoded.tofile(str(path))


def test_png_with_alpha_is_composited_on_white(tmp_path):
    bgra = np.zeros((40, 40, 4), dtype=np.uint8)
    bgra[..., 2] = 200  # red
    bgra[:, 20:, 3] = 255  # right half opaque, left half transparent
    cv2.imwrite(str(tmp_path / "alpha.png"), bgra)
    rgb = read_image(tmp_path / "alpha.png")
    assert rgb.shape == (40, 40, 3)
    assert rgb[0, 0].tolist() == [255, 255, 255] and rgb[0, 39].tolist() == [200, 0, 0]


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    bgr16 = np.zeros((40, 40, 3), dtype=np.uint16)
    bgr16[..., 0] = 65535
    bgr16[..., 1] = 32896  # 128 * 257
    cv2.imwrite(str(tmp_path / "deep.png"), bgr16)
    rgb = read_image(tmp_path / "deep.png")
    assert rgb.dtype == np.uint8 and rgb[0, 0].tolist() == [0, 128, 255]


def test_grey_png_becomes_rgb(tmp_path):
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((40, 50), 77, dtype=np.uint8))
    rgb = read_image(tmp_path / "grey.png")
    assert rgb.shape == (40, 50, 3) and (rgb == 77).all()


def test_cmyk_jpeg_decodes_to_rgb(tmp_path):
    Image.new("CMYK", (48, 32), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)  # pure red ink
    rgb = read_image(tmp_path / "cmyk.jpg")
    assert rgb.shape == (32, 48, 3)
    r, g, b = rgb[16, 24].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_exif_orientation_is_applied(tmp_path):
    picture = Image.fromarray(texture(30, 60))
    exif = picture.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    picture.save(tmp_path / "rotated.jpg", exif=exif)
    assert read_image(tmp_path / "rotated.jpg").shape == (60, 30, 3)


def test_non_ascii_file_name(tmp_path):
    path = tmp_path / "Mönet – 睡蓮.jpg"
    save_rgb(path, texture(64, 64))
    assert read_image(path).shape == (64, 64, 3)


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("empty.png", b"", "empty file"),
        ("text.jpg", b"not an image at all\n", "not a decodable image"),
    ],
)
def test_unreadable_files(tmp_path, name, content, match):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(SkipFile, match=match):
        read_image(tmp_path / name)


def test_truncated_jpeg_is_rejected(tmp_path):
    save_rgb(tmp_path / "full.jpg", texture(128, 128))
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(SkipFile, match="truncated JPEG"):
        read_image(tmp_path / "cut.jpg")


@pytest.mark.parametrize("height, width", [(1, 1), (50, 10000)])
def test_degenerate_images_are_skipped(tmp_path, height, width):
    cv2.imwrite(str(tmp_path / "odd.png"), np.full((height, width, 3), 128, dtype=np.uint8))
    with pytest.raises(SkipFile, match="degenerate image"):
        prepare_painting(tmp_path / "odd.png")


def test_uniform_border_is_cropped():
    picture = texture(200, 300)
    framed = np.zeros((260, 380, 3), dtype=np.uint8)
    framed[30:230, 40:340] = picture
    cropped = crop_border(framed)
    assert abs(cropped.shape[0] - 200) <= 6 and abs(cropped.shape[1] - 300) <= 6
    assert (cropped.reshape(-1, 3).max(axis=1) > 0).mean() > 0.99  # no black frame left


def test_picture_without_border_is_kept():
    picture = texture(120, 160)
    assert crop_border(picture).shape == picture.shape


def test_smooth_sky_is_not_taken_for_a_border():
    picture = texture(200, 200)
    picture[:80] = np.linspace(90, 160, 80, dtype=np.uint8)[
        :, None, None
    ]  # flat rows, but not uniform in height
    assert crop_border(picture).shape[0] == 200


def test_centre_square_and_resize(tmp_path):
    wide = texture(100, 180)
    square = centre_square(wide)
    assert square.shape == (100, 100, 3) and np.array_equal(square, wide[:, 40:140])
    save_rgb(tmp_path / "wide.png", wide)
    image, score = prepare_painting(tmp_path / "wide.png")
    assert image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and image.dtype == np.uint8
    assert score == pytest.approx(colour_variance(image))


def shapes(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A large picture that compresses well: 300 flat coloured rectangles in a white frame."""
    rng = np.random.default_rng(seed)
    picture = np.full((height, width, 3), 255, dtype=np.uint8)
    inner = (width // 10, height // 10, width - width // 10, height - height // 10)
    for _ in range(300):
        x0, y0 = rng.integers(inner[0], inner[2]), rng.integers(inner[1], inner[3])
        x1, y1 = min(inner[2], x0 + rng.integers(50, 900)), min(inner[3], y0 + rng.integers(50, 900))
        cv2.rectangle(picture, (int(x0), int(y0)), (int(x1), int(y1)), rng.integers(0, 230, 3).tolist(), -1)
    return picture


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_large_image_is_decoded_reduced_and_prepared_nearly_as_at_full_size(tmp_path, suffix):
    side = 4096  # twice jukepix.images.REDUCED_MIN_SIDE: the shortest side decoded at half its size
    picture = shapes(side + 64, side)
    save_rgb(tmp_path / f"large{suffix}", picture)
    save_rgb(tmp_path / f"just-under{suffix}", picture[:, : side - 1])
    assert read_image(tmp_path / f"large{suffix}").shape == (side // 2 + 32, side // 2, 3)
    assert read_image(tmp_path / f"just-under{suffix}").shape == (side + 64, side - 1, 3)  # as before: full size
    full = cv2.cvtColor(cv2.imread(str(tmp_path / f"large{suffix}")), cv2.COLOR_BGR2RGB)
    at_full_size = cv2.resize(centre_square(crop_border(full)), (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    prepared, _ = prepare_painting(tmp_path / f"large{suffix}")
    assert np.abs(prepared.astype(int) - at_full_size).mean() < 1.5  # 8-bit levels


def test_an_upload_to_the_page_is_held_to_the_lower_pixel_limit(tmp_path):
    from crossmodal.generation.uploads import upload_being_read
    from jukepix.images import UPLOAD_MAX_PIXELS

    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), np.full((4500, 6000, 3), 128, dtype=np.uint8))  # 27 megapixels
    assert read_image(path).shape == (2250, 3000, 3)  # the user's own file, as for prepare and generate
    with upload_being_read(), pytest.raises(SkipFile) as refused:
        read_image(path)
    limit = f"above the limit of {UPLOAD_MAX_PIXELS:,}"
    assert str(refused.value) == f"too large: 6000x4500 px = 27,000,000 pixels, {limit}"


def test_colour_variance_definition():
    flat = np.full((8, 8, 3), 90, dtype=np.uint8)
    assert colour_variance(flat) == 0.0
    halves = np.zeros((8, 8, 3), dtype=np.uint8)
    halves[4:] = 255
    assert colour_variance(halves) == pytest.approx(127.5**2)
    only_red = np.zeros((8, 8, 3), dtype=np.uint8)
    only_red[4:, :, 0] = 255
    assert colour_variance(only_red) == pytest.approx(127.5**2 / 3)


def test_real_paintings(shared_data):
    files = sorted((shared_data / "paintings").glob("*.jpg"))
    for path in files[:3] + [p for p in files if p.name.startswith("gallery__")][:2]:
        image, score = prepare_painting(path)
        assert image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and score > 0
