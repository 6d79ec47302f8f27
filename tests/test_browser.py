"""The page in headless Debian Chromium, driven by Playwright: upload an example frame, wait for the
scores and the overlays, keep a screenshot in artifacts/."""

import contextlib
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
EXAMPLE = ROOT / "demo" / "examples" / "frames" / "polyp.png"
# Chromium needs these as root in a container, and the closed network refuses its background traffic.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@contextlib.contextmanager
def app_page(app_url, theme: str | None = None):
    """A page of the app in headless Debian Chromium, loaded and ready (in Gradio's light or dark theme)."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(chromium).exists(), "Debian's chromium is missing: apt-get install chromium (make test does, as root)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1700})
            page.goto(app_url + (f"?__theme={theme}" if theme else ""), wait_until="domcontentloaded")
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


def _luminance(css_rgb: str) -> float:
    r, g, b = (int(v) / 255 for v in css_rgb[css_rgb.index("(") + 1 : css_rgb.index(")")].split(",")[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_disclaimer_is_readable_in_both_themes(app_url, theme):
    """WCAG contrast of the "Not for clinical use" banner's text on its background: at least 4.5."""
    with app_page(app_url, theme) as page:
        banner = page.locator(".dc-warning").first
        text = page.locator(".dc-warning strong").first
        background = banner.evaluate("e => getComputedStyle(e).backgroundColor")
        colour = text.evaluate("e => getComputedStyle(e).color")
        light, dark = sorted((_luminance(background), _luminance(colour)), reverse=True)
        ratio = (light + 0.05) / (dark + 0.05)
        page.screenshot(path=str(ARTIFACTS / f"disclaimer-{theme}.png"), clip={"x": 0, "y": 0, "width": 1400, "height": 260})
        assert "rgba(0, 0, 0, 0)" not in background and ratio >= 4.5, (theme, background, colour, ratio)


def _natural_size(page, elem: str) -> tuple[int, int]:
    return tuple(page.locator(f"{elem} img").first.evaluate("e => [e.naturalWidth, e.naturalHeight]"))


@pytest.mark.parametrize("theme", ["dark"])
def test_an_example_shows_its_truth_colour_bars_and_a_photo_gets_a_warning(app_url, theme):
    """An example frame: its truth marked on the scores, every map with a colour bar beside it (wider than
    the square crop). A portrait photo: the out-of-distribution banner above the scores."""
    from matplotlib import cbook

    with app_page(app_url, theme) as page:
        page.locator("#example-gallery img").first.click()  # the blood example: colon and blood are true
        page.wait_for_selector('#scores .dc-row[data-outcome="hit"]', timeout=120_000)
        assert page.locator('#scores .dc-row[data-label="blood"]').get_attribute("data-outcome") in ("hit", "miss")
        assert "Truth known for this frame" in page.locator("#scores").inner_text()
        for elem in ("#a1", "#a2", "#diff", "#attribution"):
            page.wait_for_selector(f"{elem} img", timeout=120_000)
            width, height = _natural_size(page, elem)
            assert width > 1.3 * height, (elem, width, height)  # the map and its colour bar
        assert "green outline: the lesion mask" in page.locator("#attribution-caption").inner_text()
        page.screenshot(path=str(ARTIFACTS / f"frames-view-truth-{theme}.png"), full_page=True)
        assert page.locator("#scores .dc-ood").count() == 0
        photo = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
        page.locator("#frame-upload input[type=file]").set_input_files(str(photo))
        page.locator("#analyse-btn").click()
        page.wait_for_selector("#scores .dc-ood", timeout=120_000)
        assert "does not look like a capsule endoscopy frame" in page.locator("#scores").inner_text()
        page.wait_for_selector("#attribution-caption :text('on grace_hopper.jpg')", timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / f"frames-view-ood-{theme}.png"), full_page=True)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_noise_lab_follows_its_sliders(app_url, theme):
    """The Noise lab: an example, its maps and numbers; more bubbles (a slider) redraw the frame and change the
    numbers under both maps (artifacts/noise-lab.png, artifacts/noise-lab-dark.png)."""
    from demo.resources import examples
    from diffclip.distractors import LAB_CLUSTERS

    shows = examples()[0].shows  # the first example's finding: the label shown by default
    bubbles = LAB_CLUSTERS["bubbles"]  # clusters at level 1; the example opens at level 0.5
    views = ("#noise-frame", "#noise-lambda", "#noise-standard", "#noise-differential", "#noise-subtraction")
    numbers = ("#noise-standard-numbers", "#noise-differential-numbers")
    with app_page(app_url, theme) as page:
        page.get_by_role("tab", name="Noise lab").click()
        page.locator("#noise-examples img").first.click()
        page.wait_for_selector(f"#noise-frame-caption :text('{round(bubbles / 2)} clusters of bubbles')",
                               timeout=120_000)
        for elem in views:
            page.wait_for_selector(f"{elem} img", timeout=60_000)
        assert f"p({shows})" in page.locator(numbers[0]).inner_text()
        assert "BiomedCLIP-scale" in page.locator("#noise-evidence").inner_text()
        before = [page.locator(n).inner_text() for n in numbers]
        frame = page.locator("#noise-frame img").get_attribute("src")
        slider = page.get_by_label("number input for Bubble density")
        slider.fill("1")
        slider.press("Tab")  # leaving the box releases the slider
        page.wait_for_selector(f"#noise-frame-caption :text('{bubbles} clusters of bubbles')", timeout=120_000)
        page.wait_for_function(f"document.querySelector('#noise-frame img')?.src !== {frame!r}", timeout=60_000)
        after = [page.locator(n).inner_text() for n in numbers]
        assert all(a != b for a, b in zip(after, before, strict=True)), (before, after)
        assert "removes" in page.locator("#noise-subtraction-caption").inner_text()
        page.wait_for_timeout(500)  # the last images finish drawing
        page.screenshot(path=str(ARTIFACTS / ("noise-lab.png" if theme == "light" else f"noise-lab-{theme}.png")),
                        full_page=True)
        for elem in views:
            assert "Error" not in page.locator(elem).inner_text(), elem
