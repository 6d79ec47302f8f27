"""The page in headless Debian Chromium, driven by Playwright: upload an example frame, wait for the
scores and the overlays, keep a screenshot in artifacts/."""

import contextlib
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
EXAMPLE = ROOT / "demo" / "examples" / "frames" / "polyp.png"
# Chromium needs these as root in a container, and the closed network refuses its background traffic.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@contextlib.contextmanager
def app_page(app_url):
    """A page of the app in headless Debian Chromium, loaded and ready."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(chromium).exists(), "Debian's chromium is missing: apt-get install chromium (make test does, as root)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1700})
            page.goto(app_url, wait_until="domcontentloaded")
            page.wait_for_selector("#analyse-btn", timeout=60_000)
            yield page
        finally:
            browser.close()


def test_upload_frame_shows_scores_and_overlays(app_url):
    with app_page(app_url) as page:
        assert "Not for clinical use" in page.content()
        page.locator("#frame-upload input[type=file]").set_input_files(str(EXAMPLE))
        page.locator("#analyse-btn").click()
        page.wait_for_selector("#scores .dc-row", timeout=120_000)
        assert page.locator("#scores .dc-row").count() == 17
        for elem in ("#a1", "#a2", "#diff", "#attribution"):
            page.wait_for_selector(f"{elem} img", timeout=120_000)
        predicted = page.locator('#scores .dc-row[data-on="1"]').count()
        assert predicted >= 1
        page.screenshot(path=str(ARTIFACTS / "frames-view.png"), full_page=True)
        # a failed analysis: its message, the old results cleared, no red "Error" badges on the views
        fake = ARTIFACTS / "not-a-frame.png"
        fake.write_bytes(b"not really a png")
        page.locator("#frame-upload input[type=file]").set_input_files(str(fake))
        page.locator("#analyse-btn").click()
        page.wait_for_selector("text=not-a-frame.png is not an image file", timeout=60_000)
        page.wait_for_selector("#scores .dc-stale", timeout=60_000)
        for elem in ("#scores", "#frame-gallery", "#a1", "#diff", "#attribution"):
            assert page.locator(f"{elem} img").count() == 0, elem
        for elem in ("#scores", "#frame-gallery", "#a1", "#diff", "#attribution", "#layer", "#head", "#label"):
            assert "Error" not in page.locator(elem).inner_text(), elem
        page.screenshot(path=str(ARTIFACTS / "frames-view-after-error.png"), full_page=True)
    assert (ARTIFACTS / "frames-view.png").stat().st_size > 50_000


def test_the_attribution_follows_the_frame_and_the_label(app_url):
    """The attribution panel shows what its caption names: switching the frame or the label recomputes it."""
    frames = [ROOT / "demo" / "examples" / "frames" / n for n in ("polyp.png", "blood.png")]
    caption = "#attribution-caption"
    with app_page(app_url) as page:
        page.locator("#frame-upload input[type=file]").set_input_files([str(f) for f in frames])
        page.locator("#analyse-btn").click()
        page.wait_for_selector(f"{caption} :text('on polyp.png')", timeout=120_000)
        first = page.locator("#attribution img").get_attribute("src")
        page.locator("#frame-gallery img").nth(1).click()
        page.wait_for_selector(f"{caption} :text('on blood.png')", timeout=120_000)
        page.wait_for_function(f"document.querySelector('#attribution img')?.src !== {first!r}", timeout=60_000)
        page.locator("#label input").fill("ulcer")
        page.keyboard.press("Enter")
        page.wait_for_selector(f"{caption} :text('for ulcer')", timeout=120_000)
        assert "on blood.png" in page.locator(caption).inner_text()
        page.screenshot(path=str(ARTIFACTS / "frames-view-switched.png"), full_page=True)
