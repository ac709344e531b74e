"""`crossmodal serve` in a real browser, with Jukepix: a painting in, a piano-roll and a WAV out.

Headless Chromium (Debian's ``chromium`` and ``chromium-driver`` packages; selenium drives it
through ``/usr/bin/chromedriver``, so selenium-manager never downloads a browser) opens the page
served by uvicorn, uploads a painting from ``../shared/data/paintings``, waits for the result,
and checks that the cropped painting and the piano-rolls are shown as images the browser decoded,
that each audio player holds a WAV the browser can play (its metadata loaded, a duration), and
that every file has a download link; then a file dropped on the page is uploaded, and being
unusable, gives one message on the page. A screenshot is saved under pytest's temporary folder,
and copied to docs/figures/serve-page.png when ``CROSSMODAL_SAVE_SCREENSHOT=1``, the SHA-256 of
the model it shows recorded in the PNG. Where no browser is installed, those tests skip with the
reason. Also here, without a browser: Jukepix's own checks of an upload (not an image, too many
pixels claimed by its header, more than the lower limit of an upload) come back as one message
naming the file as uploaded, and the figure in the docs shows the shipped model.

These tests serve Jukepix's shipped model, ``jukepix-default`` (no training); the core's own tests
of the server use the toy plugin (tests/test_serve.py).
"""

from __future__ import annotations

import os
import struct
import time
import urllib.request
import zlib
from pathlib import Path

import pytest

for _module in ("starlette", "uvicorn", "python_multipart"):
    pytest.importorskip(_module, reason="crossmodal serve needs the serve extra: pip install 'crossmodal[serve]'")

from starlette.testclient import TestClient  # noqa: E402

from crossmodal import load_plugins  # noqa: E402
from crossmodal.generation.session import open_generation  # noqa: E402
from crossmodal.generation.web_app import create_app  # noqa: E402
from test_serve import HEADERS, Served, finished_status  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED_DATA = REPOSITORY.parent / "shared" / "data"
"""``<repository>/../shared/data``: real MIDI files and paintings (see its SOURCES.md)."""

PAINTING = "gallery__monet-impression-sunrise.jpg"

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
"""Debian's browser and its driver (packages ``chromium``, ``chromium-driver``; .ci/run installs them)."""

SCREENSHOT_ENV = "CROSSMODAL_SAVE_SCREENSHOT"
FIGURE = REPOSITORY / "docs" / "figures" / "serve-page.png"
"""Where the screenshot is copied when ``CROSSMODAL_SAVE_SCREENSHOT=1``."""

FIGURE_MODEL_KEY = "crossmodal-model-sha256"
"""The PNG text entry of :data:`FIGURE` holding the SHA-256 of the model file the page served."""

WAIT_SECONDS = 120
"""Longest wait for the page (a one-sample Jukepix generation with audio takes a few seconds)."""

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1100")
"""Headless, offline, nothing fetched in the background; /dev/shm is small in containers."""


@pytest.fixture(scope="module")
def shared_data() -> Path:
    if not (SHARED_DATA / "paintings" / PAINTING).is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="module")
def generation(shared_data):
    """Jukepix's shipped model, ``jukepix-default`` (no training), opened with audio."""
    plugins = load_plugins(allow=["jukepix", "evaluators"])
    if "jukepix-default" not in plugins.registry.names("pretrained-model"):
        pytest.skip("the Jukepix plugin is not installed (pip install -e plugins/jukepix)")
    return open_generation(plugins.registry, model="jukepix-default", device="cpu", render=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium through chromedriver, with a fresh profile."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.skip(f"no browser to drive: {', '.join(missing)} not installed "
                    "(apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(WAIT_SECONDS)
    yield driver
    driver.quit()


def _wait(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.1).until(condition, f"waiting for {what}")


def _open_page(driver, port: int) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"http://127.0.0.1:{port}/")
    _wait(driver, lambda d: d.find_element(By.ID, "recipe").text == "jukepix", "the page to load /info")


_DROP = """
const [name, text] = arguments;
const files = new DataTransfer();
files.items.add(new File([text], name, {type: "image/jpeg"}));
const where = document.getElementById("samples");  // anywhere on the page will do
for (const type of ["dragenter", "dragover", "drop"]) {
  where.dispatchEvent(new DragEvent(type, {dataTransfer: files, bubbles: true, cancelable: true}));
}
"""
"""Drops a file named ``arguments[0]`` holding the text ``arguments[1]`` on the page."""


def _generate(driver, seed: int, samples: int) -> str:
    """Set seed and samples, press Generate; the status line once the job is done or failed."""
    from selenium.webdriver.common.by import By

    for field, value in (("seed", seed), ("samples", samples)):
        driver.find_element(By.ID, field).clear()
        driver.find_element(By.ID, field).send_keys(str(value))
    driver.find_element(By.ID, "generate").click()

    def finished(d):
        status = d.find_element(By.ID, "status")
        return (status.text.startswith("Done") or "error" in status.get_attribute("class")) and status.text

    return _wait(driver, finished, "the generation to finish")


@pytest.mark.slow
def test_the_page_turns_a_painting_into_a_piano_roll_and_a_playable_wav(browser, generation, shared_data, tmp_path):
    from selenium.webdriver.common.by import By

    with Served(create_app(generation)) as port:
        _open_page(browser, port)
        browser.find_element(By.ID, "file").send_keys(str(shared_data / "paintings" / PAINTING))
        status = _generate(browser, seed=3, samples=2)
        assert status.startswith("Done in ") and status.endswith(": 6 file(s)"), status
        preview = browser.find_element(By.ID, "preview")
        assert browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]",
                                      preview) == [256, 256]  # the cropped painting, as the model sees it
        rolls = browser.find_elements(By.CSS_SELECTOR, ".sample img")
        assert [roll.get_attribute("alt") for roll in rolls] == [
            "gallery__monet-impression-sunrise-0.png", "gallery__monet-impression-sunrise-1.png"]
        _wait(browser, lambda d: all(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0",
                                                      roll) for roll in rolls), "the piano-rolls to be decoded")
        players = browser.find_elements(By.CSS_SELECTOR, ".sample audio")
        assert len(players) == 2
        for player in players:
            source = player.find_element(By.TAG_NAME, "source").get_attribute("src")
            assert source.endswith(".wav")
            with urllib.request.urlopen(source, timeout=30) as response:
                head = response.read(12)
            assert head[:4] == b"RIFF" and head[8:12] == b"WAVE"
            _wait(browser, lambda d, p=player: d.execute_script(
                "return arguments[0].error === null && arguments[0].readyState >= 1 && arguments[0].duration > 0", p),
                "the WAV's metadata to load")
            assert browser.execute_script("return arguments[0].duration", player) > 1  # seconds: 4 bars of music
        links = sorted(a.get_attribute("download") for a in browser.find_elements(By.CSS_SELECTOR, ".sample a"))
        assert links == sorted(f"gallery__monet-impression-sunrise-{i}.{suffix}"
                               for i in (0, 1) for suffix in ("mid", "png", "wav"))
        time.sleep(0.3)  # let the players draw their durations
        screenshot = tmp_path / "serve-page.png"
        assert browser.save_screenshot(str(screenshot))
    print(f"screenshot: {screenshot}")
    if os.environ.get(SCREENSHOT_ENV) == "1":
        _save_figure(screenshot)


def _save_figure(screenshot: Path) -> None:
    """Copy ``screenshot`` to :data:`FIGURE`, with the shipped model's SHA-256 in its PNG text."""
    from PIL import Image, PngImagePlugin

    from jukepix.pretrained import MODEL_SHA256

    info = PngImagePlugin.PngInfo()
    info.add_text(FIGURE_MODEL_KEY, MODEL_SHA256)
    with Image.open(screenshot) as image:
        image.save(FIGURE, pnginfo=info, optimize=True)


@pytest.mark.slow  # figure check: docs/figures/serve-page.png records the shipped model
def test_the_figure_of_the_page_shows_the_shipped_model():
    from PIL import Image

    pretrained = pytest.importorskip("jukepix.pretrained", reason="the Jukepix plugin is not installed")
    with Image.open(FIGURE) as figure:
        shown_model = figure.text.get(FIGURE_MODEL_KEY)
    assert shown_model == pretrained.MODEL_SHA256, (
        f"{FIGURE.name} shows another model than jukepix-default: make it again with "
        f"{SCREENSHOT_ENV}=1 python -m pytest tests/test_serve_browser.py")


@pytest.mark.slow
def test_a_file_dropped_on_the_page_is_uploaded_and_an_unusable_one_is_one_message(browser, generation):
    from selenium.webdriver.common.by import By

    with Served(create_app(generation)) as port:
        _open_page(browser, port)
        browser.execute_script(_DROP, "not-a-painting.jpg", "water lilies")
        assert browser.find_element(By.ID, "chosen").text == "not-a-painting.jpg (0 KiB)"
        status = _generate(browser, seed=0, samples=1)
    assert status.startswith("not-a-painting.jpg: ") and "not a decodable image" in status
    assert len(status.splitlines()) == 1
    assert browser.find_element(By.ID, "results").get_attribute("hidden") is not None


def _png_header(width: int, height: int) -> bytes:
    """The signature, IHDR chunk and the start of an empty IDAT chunk of an 8-bit RGB PNG of
    ``width x height``: 41 bytes whose header claims ``width * height`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + struct.pack(">I", 0) + b"IDAT")


@pytest.mark.parametrize(("name", "data", "cause"), [
    ("bomb.png", _png_header(30000, 30000), "too large: header claims 900,000,000 pixels"),
    ("scan.png", _png_header(9990, 9990), "too large: 9990x9990 px = 99,800,100 pixels, above the limit of 25,000,000"),
    ("letter.jpg", b"Dear Theo,\n", "not a decodable image"),
])
def test_jukepix_checks_an_upload_and_the_page_gets_one_message(generation, name, data, cause):
    with TestClient(create_app(generation), base_url="http://127.0.0.1") as client:
        accepted = client.post("/jobs", files={"file": (name, data)}, data={"seed": "0", "samples": "1"},
                               headers=HEADERS)
        status = finished_status(client, accepted.json()["id"])
    assert status["state"] == "error" and status["files"] == []
    assert status["error"].startswith(f"{name}: ") and cause in status["error"]
    assert len(status["error"].splitlines()) == 1
