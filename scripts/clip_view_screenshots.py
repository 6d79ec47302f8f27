"""Drive the Clip tab in headless Chromium on the example clip (with its ground truth) and keep screenshots:
artifacts/clip-view-light.png, artifacts/clip-view-dark.png (the whole tab after an analysis and a click on
the 10th sampled frame, and in dark, a click on the timeline), artifacts/clip-view-timeline.png (the
timeline alone), artifacts/clip-view-overlay-frame.png (one frame of the overlay MP4, as written),
artifacts/clip-view-bad-truth.png (a truth file of another video given afterwards), and videos of awkward
shapes: artifacts/clip-view-avi-{light,dark}.png, clip-view-vfr.png, clip-view-vfr-timeline.png and
clip-view-one-frame.png.

    .venv/bin/python scripts/clip_view_screenshots.py [--fps 5] [--cap 200]

Needs Debian's chromium (``which chromium``) and the Python playwright package; the app runs on a free
loopback port (benchmarks.serving.launch_app)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.serving import launch_app  # noqa: E402

ARTIFACTS = ROOT / "artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def shoot(url: str, theme: str, fps: float, cap: int) -> None:
    """Analyse the example clip in one theme and save the tab, the timeline and an overlay frame."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", headless=True,
                                    args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(url + f"?__theme={theme}", wait_until="domcontentloaded")
            page.get_by_role("tab", name="Clip").click()
            page.locator("#clip-btn").wait_for(timeout=60_000)
            page.locator("#clip-example button").first.click()  # the example: clip and truth together
            page.wait_for_function("document.querySelector('#clip-truth')?.innerText.includes('clip_ground_truth')",
                                   timeout=30_000)
            _set_slider(page, "Sample frames per second", fps)
            _set_slider(page, "At most this many frames", cap)
            page.locator("#clip-btn").click()
            page.wait_for_selector("#clip-truth-summary :text('Temporal mAP of this clip')", timeout=300_000)
            page.wait_for_selector("#timeline img", timeout=60_000)
            before = page.locator("#timeline img").get_attribute("src")
            page.locator("#clip-gallery button.thumbnail-item").nth(9).click()
            page.wait_for_function(f"document.querySelector('#timeline img')?.src !== {before!r}", timeout=60_000)
            page.wait_for_timeout(1500)
            value = page.locator("#clip-frame input[type=number]").input_value()
            print(f"{theme}: slider at {value} after clicking the 10th thumbnail")
            if theme == "dark":  # a click on the timeline at video frame 60 (of 100) picks the sample there
                from diffclip.timeline import LEFT, RIGHT

                box = page.locator("#timeline img").bounding_box()
                before = page.locator("#timeline img").get_attribute("src")
                page.locator("#timeline img").click(position={"x": box["width"] * (LEFT + 0.6 * (RIGHT - LEFT)),
                                                              "y": box["height"] / 2})
                page.wait_for_function(f"document.querySelector('#timeline img')?.src !== {before!r}", timeout=60_000)
                page.wait_for_timeout(1500)
                value = page.locator("#clip-frame input[type=number]").input_value()
                print(f"{theme}: slider at {value} after clicking the timeline at frame 60")
            page.screenshot(path=str(ARTIFACTS / f"clip-view-{theme}.png"), full_page=True)
            if theme == "light":
                page.locator("#timeline").screenshot(path=str(ARTIFACTS / "clip-view-timeline.png"))
                _overlay_frame(page)
                _bad_truth(page)
            _shapes(page, theme)
        finally:
            browser.close()


def _bad_truth(page) -> None:
    """A truth file that belongs to a longer video, given after the analysis: one line in the truth panel,
    the bands and the scores go (artifacts/clip-view-bad-truth.png)."""
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "other_video_truth.json"
        bad.write_text('{"videos": [{"video_id": "clip", "events": [{"start": 0, "end": 499, "label": ["colon"]}]}]}')
        page.locator("#clip-truth button[aria-label='Clear']").first.click()
        page.locator("#clip-truth input[type=file]").set_input_files(str(bad))
        page.wait_for_selector("#clip-truth-summary :text('Ground truth not used')", timeout=60_000)
        page.wait_for_timeout(1500)
        print("bad truth:", page.locator("#clip-truth-summary").inner_text())
        page.screenshot(path=str(ARTIFACTS / "clip-view-bad-truth.png"), full_page=True)


def _upload_clip(page, video: Path, fps: float) -> None:
    """Replace the clip (and drop the truth file) with ``video``, wait for its preview, analyse it."""
    for field in ("#clip-upload", "#clip-truth"):
        clear = page.locator(f"{field} button[aria-label='Clear']")
        if clear.count():
            clear.first.click()
    page.locator("#clip-upload input[type=file]").set_input_files(str(video))
    page.wait_for_function("document.querySelector('#clip-preview video')?.src || "
                           "document.querySelector('#clip-preview-note')?.innerText.includes('preview')",
                           timeout=120_000)
    _set_slider(page, "Sample frames per second", fps)
    before = page.locator("#clip-notes").inner_text()
    page.locator("#clip-btn").click()
    page.wait_for_function(f"(document.querySelector('#clip-notes')?.innerText || '') !== {before!r}",
                           timeout=300_000)
    page.wait_for_timeout(2500)


def _shapes(page, theme: str) -> None:
    """Videos of awkward shapes (benchmarks/_video_shapes.py): an AVI (a re-encoded preview, no red error), in
    both themes; a variable-frame-rate MKV and a one-frame WebM in light."""
    from benchmarks._video_shapes import make_shapes

    with tempfile.TemporaryDirectory() as tmp:
        videos = make_shapes(Path(tmp))
        _upload_clip(page, videos["avi"], 30)
        print(f"avi ({theme}):", page.locator("#clip-preview-note").inner_text())
        page.screenshot(path=str(ARTIFACTS / f"clip-view-avi-{theme}.png"), full_page=True)
        if theme != "light":
            return
        _upload_clip(page, videos["vfr"], 30)
        print("vfr:", page.locator("#clip-notes").inner_text())
        page.screenshot(path=str(ARTIFACTS / "clip-view-vfr.png"), full_page=True)
        page.locator("#timeline").screenshot(path=str(ARTIFACTS / "clip-view-vfr-timeline.png"))
        _upload_clip(page, videos["one"], 5)
        print("one frame:", page.locator("#clip-notes").inner_text())
        page.screenshot(path=str(ARTIFACTS / "clip-view-one-frame.png"), full_page=True)


def _set_slider(page, label: str, value: float) -> None:
    number = page.get_by_label(f"number input for {label}")
    number.fill(str(value))
    number.press("Enter")


def _overlay_frame(page) -> None:
    """The 10th frame of the overlay MP4 the page links to, as a PNG."""
    import av
    import numpy as np
    from PIL import Image

    src = page.locator("#overlay-video video").get_attribute("src")
    data = page.request.get(src).body()
    with tempfile.NamedTemporaryFile(suffix=".mp4") as fh:
        fh.write(data)
        fh.flush()
        with av.open(fh.name) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i == 9:
                    Image.fromarray(np.asarray(frame.to_ndarray(format="rgb24"))).save(
                        ARTIFACTS / "clip-view-overlay-frame.png")
                    break


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=5)
    parser.add_argument("--cap", type=int, default=200)
    parser.add_argument("--url", help="an app already running (default: start one on a free port)")
    args = parser.parse_args(argv)
    ARTIFACTS.mkdir(exist_ok=True)
    if args.url:
        for theme in ("light", "dark"):
            shoot(args.url.rstrip("/") + "/", theme, args.fps, args.cap)
        return 0
    with tempfile.TemporaryDirectory() as tmp, launch_app(sys.executable, ROOT, Path(tmp) / "app.log") as app:
        for theme in ("light", "dark"):
            shoot(app.url, theme, args.fps, args.cap)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
