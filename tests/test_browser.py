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
    """The picture's size once it has loaded: an <img> that exists may still be fetching (0 x 0 on a busy
    machine), or be given a new source while it does (decode() then fails): wait until one has loaded."""
    loaded = "s => Array.from(document.querySelectorAll(s)).filter(e => e.complete && e.naturalWidth > 0)"
    page.wait_for_function(f"s => ({loaded})(s).length > 0", arg=f"{elem} img", timeout=120_000)
    # the widest loaded picture: the panel may hold an old and a new <img> while Gradio swaps them
    return tuple(page.evaluate(f"s => ({loaded})(s).map(e => [e.naturalWidth, e.naturalHeight])"
                               ".sort((a, b) => b[0] - a[0])[0]", f"{elem} img"))


def _uncovered(page, elem: str) -> bool:
    """Whether the panel's toolbar (download, full screen) ends above its picture's top edge, so that it hides
    no part of the map or of its colour bar's top tick label."""
    return page.evaluate("""s => {
        const bar = document.querySelector(s + ' .icon-button-wrapper');
        const imgs = Array.from(document.querySelectorAll(s + ' img')).filter(e => e.complete && e.naturalWidth > 0);
        const img = imgs.sort((a, b) => b.naturalWidth - a.naturalWidth)[0];
        return !bar || bar.getBoundingClientRect().bottom <= img.getBoundingClientRect().top + 1;
    }""", elem)


@pytest.mark.parametrize("theme", ["light", "dark"])
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
            assert _uncovered(page, elem), elem  # issue 29: the top tick label hid under the toolbar
        # one analysed frame is a thumbnail, not the whole gallery's width, zoomed and cropped (issue 29)
        page.wait_for_selector("#frame-gallery img", timeout=60_000)
        thumb = page.locator("#frame-gallery img").first.bounding_box()
        assert thumb["width"] < page.locator("#frame-gallery").bounding_box()["width"] / 4, thumb
        assert "green outline: the lesion mask" in page.locator("#attribution-caption").inner_text()
        # the method menu shows its whole title ("Gradient-weighted attentio" was cut)
        text, room = page.evaluate("""() => {
            const e = document.querySelector('#method input');
            const c = document.createElement('canvas').getContext('2d');
            c.font = getComputedStyle(e).font;
            return [c.measureText(e.value).width, e.clientWidth]; }""")
        assert 0 < text and text + 16 <= room, (text, room)  # 16 px: the menu's arrow sits over the box's end
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


def test_the_errors_tab_counts_follow_a_threshold_and_the_report_opens_offline(app_url, tmp_path):
    """The Errors tab on the bundled held-out set: the default label's TP/FP/FN, its threshold slider moved to
    1 with the keyboard, the counts follow without a model run (artifacts/errors-tab.png, errors-tab-dark.png).
    Then a report made by ``diffclip errors`` on a tiny set opens from disk with no request beyond file://."""
    import subprocess
    import sys

    # a label's row of the table, as shown (Gradio draws the body as rows of grid cells)
    row_js = """Array.from(document.querySelectorAll('#errors-table [role=row]'))
        .map(r => Array.from(r.querySelectorAll('[role=gridcell]')).map(c => c.innerText.trim()))
        .find(cells => cells[0] === label)"""

    def _errors_row(page, label: str) -> list[str]:
        return page.evaluate(f"label => {row_js}", label)

    with app_page(app_url) as page:
        page.get_by_role("tab", name="Errors").click()
        page.locator("#errors-analyse").click()
        page.wait_for_selector("#errors-summary :text('200 frames with truth in 2 videos')", timeout=600_000)
        label = page.locator("#errors-label input").input_value()
        slug = label.replace(" ", "-")
        before = _errors_row(page, label)
        support, tp, fp, fn = (int(v) for v in before[2:6])
        assert tp + fn == support and fp > 0, before
        page.wait_for_selector(f"#errors-fp :text('False positives of {label}')", timeout=60_000)
        page.locator(f"#errors-threshold-{slug} input[type=range]").focus()
        page.keyboard.press("End")  # the slider's maximum: nothing reaches p >= 1, so every positive is missed
        page.wait_for_function(f"document.querySelector('#errors-threshold-{slug} input[type=number]').value === '1'")
        page.wait_for_function(f"label => {{ const r = {row_js}; return r && Number(r[1]) === 1; }}", arg=label,
                               timeout=60_000)
        after = _errors_row(page, label)
        assert after[2:6] == [str(support), "0", "0", str(support)], (before, after)
        assert "1 threshold moved from the checkpoint's" in page.locator("#errors-summary").inner_text()
        page.wait_for_selector("#errors-fp :text('none at this threshold')", timeout=60_000)
        page.wait_for_timeout(500)
        # the sliders of a row stand on one line, however long their labels (issue 29)
        tops = page.evaluate("() => Array.from(document.querySelectorAll('.dc-threshold input[type=range]'))"
                             ".map(e => Math.round(e.getBoundingClientRect().top))")
        from demo.tabs.errors import PER_ROW

        assert len(tops) == 17 and len(set(tops)) == -(-17 // PER_ROW), tops
        page.screenshot(path=str(ARTIFACTS / "errors-tab.png"), full_page=True)
        page.locator("#errors-reset").click()  # back to the checkpoint's threshold: the first counts again
        page.wait_for_function(f"label => {{ const r = {row_js}; return r && r[1] === {before[1]!r}; }}",
                               arg=label, timeout=60_000)
        assert _errors_row(page, label) == before
        for elem in ("#errors-table", "#errors-fp", "#errors-fn", "#errors-summary"):
            assert "Error" not in page.locator(elem).inner_text(), elem
        page.locator("#errors-research").get_by_text("Calibration, likely label errors").click()
        page.locator("#errors-map-panel").get_by_text("Feature map and similar frames").click()
        page.wait_for_selector("#errors-map img", timeout=120_000)
        page.wait_for_selector("#errors-reliability img", timeout=60_000)
        page.wait_for_timeout(500)
        page.locator("#errors-research").screenshot(path=str(ARTIFACTS / "errors-research-light.png"))
        page.locator("#errors-map-panel").screenshot(path=str(ARTIFACTS / "errors-map-light.png"))
    with app_page(app_url, "dark") as page:  # a new session: the same pass, from the server's cache
        page.get_by_role("tab", name="Errors").click()
        page.locator("#errors-analyse").click()
        page.wait_for_selector("#errors-summary :text('model pass reused')", timeout=120_000)
        page.wait_for_selector("#errors-fp img", timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "errors-tab-dark.png"), full_page=True)
        page.locator("#errors-thumb-maps input").check()  # thumbnails with the attention the pass read
        page.wait_for_function("() => Array.from(document.querySelectorAll('#errors-fp img'))"
                               ".some(i => i.src.includes('_map.png'))", timeout=60_000)
        page.locator("#errors-fp").screenshot(path=str(ARTIFACTS / "errors-thumb-maps-dark.png"))
        # issue 30: the research panel; a likely label error picked is selected with "mislabel" prefilled
        page.locator("#errors-research").get_by_text("Calibration, likely label errors").click()
        page.wait_for_selector("#errors-reliability img", timeout=60_000)
        assert "Expected calibration error" in page.locator("#errors-research-caption").inner_text()
        page.locator("#errors-label-issues [role=gridcell]").first.click()
        page.wait_for_selector("#errors-selected :text('likely label error')", timeout=60_000)
        assert page.locator("#errors-cause input").input_value() == "mislabel"
        page.locator("#errors-research").screenshot(path=str(ARTIFACTS / "errors-research-dark.png"))
        # the feature map: a click on a false positive's point opens that frame in the Frames view, with the
        # shown label and its attribution (issue 30); the point is found by its colour in the picture
        label = page.locator("#errors-label input").input_value()
        page.locator("#errors-map-panel").get_by_text("Feature map and similar frames").click()
        page.wait_for_selector("#errors-map img", timeout=120_000)
        page.wait_for_function("() => { const i = document.querySelector('#errors-map img'); "
                               "return i && i.complete && i.naturalWidth > 0; }", timeout=60_000)
        page.locator("#errors-map img").scroll_into_view_if_needed()  # a click lands only inside the viewport
        point = page.evaluate("""() => {
            const img = document.querySelector('#errors-map img');
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            const g = c.getContext('2d'); g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data, r = img.getBoundingClientRect();
            for (let y = 0; y < c.height; y++) for (let x = 0; x < 0.72 * c.width; x++) {  // not the legend
                const i = 4 * (y * c.width + x);
                if (Math.abs(d[i] - 201) < 8 && Math.abs(d[i + 1] - 42) < 8 && Math.abs(d[i + 2] - 42) < 8)
                    return [r.left + (x + 2) * r.width / c.width, r.top + (y + 2) * r.height / c.height];
            }
            return null; }""")
        assert point, "no false positive on the map"  # polyp, the default label, has 147 at its threshold
        page.mouse.click(*point)
        page.wait_for_selector(f"#attribution-caption :text('for {label}')", timeout=120_000)
        assert page.locator("#label input").input_value() == label
        page.wait_for_selector("#attribution img", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "errors-map-opened-dark.png"), full_page=True)
        page.get_by_role("tab", name="Errors").click()
        page.wait_for_selector("#errors-similar img", timeout=60_000)
        page.locator("#errors-map-panel").screenshot(path=str(ARTIFACTS / "errors-map-dark.png"))
        # a false positive opened in the Frames view keeps its label, and its attribution is drawn
        page.locator("#errors-fp img").first.click()
        page.wait_for_selector("#errors-selected :text('false positive')", timeout=60_000)
        page.locator("#errors-open").click()
        page.wait_for_selector(f"#attribution-caption :text('for {label}')", timeout=120_000)
        assert page.locator("#label input").input_value() == label
        page.wait_for_selector("#attribution img", timeout=60_000)
    diffclip = [sys.executable, "-m", "diffclip.cli"]
    data, out = tmp_path / "set", tmp_path / "report"
    subprocess.run([*diffclip, "synth", "--out", str(data), "--videos", "1", "--frames", "20", "--seed", "5",
                    "--rare-share", "0.2", "--workers", "1"], check=True, capture_output=True, cwd=ROOT)
    subprocess.run([*diffclip, "errors", str(data), "--checkpoint", str(ROOT / "demo" / "weights" / "diff"),
                    "--out", str(out), "--top", "1", "--method", "attention"], check=True, capture_output=True,
                   cwd=ROOT)
    with app_page(app_url) as app:
        page, requests = app.context.browser.new_page(), []  # a page of its own: no request of the app's counts
        page.on("request", lambda r: requests.append(r.url))
        page.goto((out / "report.html").as_uri(), wait_until="load")
        assert page.locator("#labels tbody tr").count() == 17
        for section in ("#calibration", "#label-issues", "#slices"):  # issue 30
            assert page.locator(section).count() == 1, section
        assert page.locator("img").count() > 1
        # the galleries load lazily: load them all now; a picture missing beside the report fails decode()
        page.evaluate("() => Promise.all(Array.from(document.images).map(i => { i.loading = 'eager'; "
                      "return i.decode(); }))")
        assert page.evaluate("() => Array.from(document.images).every(i => i.naturalWidth > 0)")
        page.screenshot(path=str(ARTIFACTS / "errors-report.png"), full_page=True)
    assert requests and all(u.startswith(("file://", "data:")) for u in requests), requests


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_photo_gets_the_banner_in_the_noise_lab_and_compare_and_why_subtract_redraws(app_url, theme):
    """Issue 29: the out-of-distribution banner in the Noise lab and the Compare tab (as in the Frames tab),
    and the "Why subtract?" explainer follows its λ slider; screenshots in artifacts/."""
    from matplotlib import cbook

    photo = str(Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    with app_page(app_url, theme) as page:
        page.get_by_role("tab", name="Noise lab").click()
        page.locator("#why-subtract").get_by_text("Why subtract?").click()
        page.wait_for_selector("#why-figure img", timeout=60_000)
        caption = page.locator("#why-caption")
        assert "a1 0.82 → a1 − λ·a2 3.00" in caption.inner_text()  # λ = 0.5, noise common to both maps
        figure = page.locator("#why-figure img").get_attribute("src")
        slider = page.get_by_label("number input for λ")
        slider.fill("1")
        slider.press("Tab")
        page.wait_for_function(f"document.querySelector('#why-figure img')?.src !== {figure!r}", timeout=60_000)
        page.wait_for_selector("#why-caption :text('at λ = 1.00')", timeout=60_000)
        slider.fill("0.5")
        slider.press("Tab")
        page.wait_for_selector("#why-caption :text('at λ = 0.50')", timeout=60_000)
        page.locator("#why-subtract").screenshot(path=str(ARTIFACTS / f"why-subtract-{theme}.png"))
        page.locator("#noise-upload input[type=file]").set_input_files(photo)
        page.wait_for_selector("#noise-frame-caption .dc-ood", timeout=120_000)
        assert "does not look like a capsule endoscopy frame" in page.locator("#noise-frame-caption").inner_text()
        page.screenshot(path=str(ARTIFACTS / f"noise-lab-ood-{theme}.png"), full_page=True)
        page.get_by_role("tab", name="Compare").click()
        # every example thumbnail lies inside its gallery (a 4th column was cut: "ero", "py")
        page.wait_for_selector("#compare-examples img", timeout=60_000)
        assert page.evaluate("""() => {
            const box = document.querySelector('#compare-examples').getBoundingClientRect();
            return Array.from(document.querySelectorAll('#compare-examples img')).every(
                e => e.getBoundingClientRect().right <= box.right + 1);
        }""")
        page.locator("#compare-image input[type=file]").set_input_files(photo)
        page.locator("#compare-btn").click()
        page.wait_for_selector("#compare-table .dc-ood", timeout=120_000)
        assert "does not look like a capsule endoscopy frame" in page.locator("#compare-table").inner_text()
        page.screenshot(path=str(ARTIFACTS / f"compare-ood-{theme}.png"), full_page=True)


def test_a_clip_frame_opened_in_the_frames_view_has_its_attribution_drawn(app_url):
    """Issue 30, point 6: "Open this frame" from the Clip tab left the attribution panel blank; the overlay
    video's legend is under it (issue 29)."""
    with app_page(app_url) as page:
        page.get_by_role("tab", name="Clip").click()
        page.locator("#clip-example button").first.click()  # the example clip with its truth
        page.wait_for_function("document.querySelector('#clip-truth')?.innerText.includes('clip_ground_truth')",
                               timeout=30_000)
        cap = page.get_by_label("number input for At most this many frames")
        cap.fill("10")
        cap.press("Tab")
        page.locator("#clip-btn").click()
        page.wait_for_selector("#clip-gallery img", timeout=300_000)
        assert "tint" in page.locator("#overlay-legend").inner_text()
        page.locator("#clip-open").click()
        page.wait_for_selector("#attribution img", timeout=120_000)
        label = page.locator("#label input").input_value()
        page.wait_for_selector(f"#attribution-caption :text('for {label}')", timeout=120_000)
