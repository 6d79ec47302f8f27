"""Drive the Noise lab tab in headless Chromium (light theme) and keep its pictures for a teaching page: one
example frame clean and with every distractor at full level.

    .venv/bin/python scripts/noise_lab_screenshots.py [--example 0] [--url http://127.0.0.1:7860/]

Writes docs/img/noise-lab-level-0.png and docs/img/noise-lab-level-1.png (the lab: frame, lambda, both
models' maps and numbers, the subtraction) and docs/img/noise-lab-subtraction-level-1.png (the subtraction
panels and their caption). Needs Debian's chromium (``which chromium``) and the Python playwright package;
without --url the app runs on a free loopback port (benchmarks.serving.launch_app)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.serving import launch_app  # noqa: E402

OUT = ROOT / "docs" / "img"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SLIDERS = ("Bubble density", "Specular highlights", "Debris")


def _set_levels(page, level: float) -> None:
    """Every slider to ``level``, then wait until the frame's caption says so and the pictures are in."""
    for label in SLIDERS:
        box = page.get_by_label(f"number input for {label}")
        box.fill(f"{level:g}")
        box.press("Tab")  # leaving the box releases the slider: the lab runs
    from diffclip.distractors import LAB_CLUSTERS

    n = {kind: round(level * most) for kind, most in LAB_CLUSTERS.items()}
    said = [f"{n[k]} cluster{'s' if n[k] != 1 else ''} of {k}" for k in n]  # as demo.tabs.noise_lab.noise_lab_figures words it
    said[1] = said[1].replace("highlights", "specular highlights")
    said = said if level > 0 else ["no distractors drawn"]
    page.wait_for_function("([sel, ...parts]) => parts.every(p => document.querySelector(sel)?.innerText.includes(p))",
                           arg=["#noise-frame-caption", *said], timeout=180_000)
    # no run pending (Gradio marks a pending block), then a moment for the images to decode
    page.wait_for_function("!document.querySelector('.pending')", timeout=180_000)
    page.wait_for_timeout(1500)


def _lab_region(page) -> dict:
    """The page area from the lab's intro to the subtraction's caption (page coordinates)."""
    top = page.locator("#noise-evidence").evaluate("e => e.getBoundingClientRect().top + window.scrollY")
    bottom = page.locator("#noise-subtraction-caption").evaluate(
        "e => e.getBoundingClientRect().bottom + window.scrollY")
    return {"x": 0, "y": max(0, top - 70), "width": 1400, "height": bottom - top + 90}


def shoot(url: str, example: int) -> list[Path]:
    """Pick ``example`` in the Noise lab, save the lab at level 0 and at level 1, and the subtraction."""
    from playwright.sync_api import sync_playwright

    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", headless=True,
                                    args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(url + "?__theme=light", wait_until="domcontentloaded")
            page.get_by_role("tab", name="Noise lab").click()
            page.locator("#noise-examples img").nth(example).click()
            page.wait_for_selector("#noise-subtraction img", timeout=180_000)
            for level in (0, 1):
                _set_levels(page, level)
                print(f"level {level}:", page.locator("#noise-subtraction-caption").inner_text().splitlines()[-1])
                path = OUT / f"noise-lab-level-{level}.png"
                page.screenshot(path=str(path), full_page=True, clip=_lab_region(page))
                saved.append(path)
            path = OUT / "noise-lab-subtraction-level-1.png"
            top = page.locator("#noise-subtraction").evaluate("e => e.getBoundingClientRect().top + window.scrollY")
            bottom = page.locator("#noise-subtraction-caption").evaluate(
                "e => e.getBoundingClientRect().bottom + window.scrollY")
            page.screenshot(path=str(path), full_page=True,
                            clip={"x": 0, "y": top - 10, "width": 1400, "height": bottom - top + 20})
            saved.append(path)
        finally:
            browser.close()
    return saved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", type=int, default=0, help="index of the example (demo/examples/examples.json)")
    parser.add_argument("--url", help="an app already running (default: start one on a free port)")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.url:
        saved = shoot(args.url.rstrip("/") + "/", args.example)
    else:
        with tempfile.TemporaryDirectory() as tmp, launch_app(sys.executable, ROOT, Path(tmp) / "app.log") as app:
            saved = shoot(app.url, args.example)
    for path in saved:
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
