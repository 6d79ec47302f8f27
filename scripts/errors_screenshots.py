"""Drive the Errors tab in headless Chromium (light theme) and keep its picture for the README: the bundled
held-out set analysed, a label with false positives and false negatives picked, one mistake selected and
tagged. With a report command (``diffclip errors``), also the report of the same set opened from disk.

    .venv/bin/python scripts/errors_screenshots.py [--label lymphangioectasis] [--url http://127.0.0.1:7860/]

Writes docs/img/errors-tab.png and, when ``diffclip errors`` exists, docs/img/errors-report.png (its top,
at most 2,600 px of page), each downscaled to 1100 px wide and reduced to the fewest of 256, 192, 128 or 96
colours that keeps it under 500 kB. Needs Debian's chromium
(``which chromium``) and the Python playwright package; without --url the app runs on a free loopback port
(benchmarks.serving.launch_app)."""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.serving import launch_app  # noqa: E402

OUT = ROOT / "docs" / "img"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
WIDTH = 1100  # px of the saved pictures
LIMIT = 500_000  # bytes per picture


def save_small(png: bytes, path: Path) -> Path:
    """``png`` downscaled to WIDTH and reduced to 256 colours (screenshots are mostly flat colour)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        img = img.convert("RGB")
        if img.width > WIDTH:
            img = img.resize((WIDTH, round(img.height * WIDTH / img.width)), Image.Resampling.LANCZOS)
        for colors in (256, 192, 128, 96):  # the fewest colours needed to stay under the limit
            img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
                path, optimize=True)
            if path.stat().st_size <= LIMIT:
                break
    if path.stat().st_size > LIMIT:
        print(f"warning: {path.name} is {path.stat().st_size / 1e3:.0f} kB (aim: under {LIMIT / 1e3:.0f} kB)")
    return path


def _region(page, first: str, last: str) -> dict:
    """The page area from element ``first`` to element ``last`` (page coordinates, a margin around)."""
    top = page.locator(first).evaluate("e => e.getBoundingClientRect().top + window.scrollY")
    bottom = page.locator(last).evaluate("e => e.getBoundingClientRect().bottom + window.scrollY")
    return {"x": 0, "y": max(0, top - 12), "width": 1400, "height": bottom - top + 24}


def shoot_tab(page, url: str, label: str) -> Path:
    """Analyse the bundled set, show ``label``'s mistakes, select and tag the first false positive."""
    page.goto(url + "?__theme=light", wait_until="domcontentloaded")
    page.get_by_role("tab", name="Errors").click()
    page.locator("#errors-analyse").click()
    page.wait_for_selector("#errors-summary :text('frames with truth')", timeout=600_000)
    page.locator("#errors-label input").fill(label)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#errors-fp :text('False positives of {label}')", timeout=60_000)
    page.wait_for_function("!document.querySelector('.pending')", timeout=60_000)
    page.locator("#errors-fp img").first.click()
    page.wait_for_selector("#errors-selected :text('Selected:')", timeout=60_000)
    page.locator("#errors-note textarea").fill("bubbles over the mucosa, no lesion")
    page.locator("#errors-tag").click()
    page.wait_for_function("document.querySelector('#errors-tags')?.innerText.includes('bubbles over the mucosa')",
                           timeout=60_000)
    page.wait_for_timeout(1500)  # the thumbnails finish decoding
    png = page.screenshot(full_page=True, clip=_region(page, "#errors-intro", "#errors-download"))
    return save_small(png, OUT / "errors-tab.png")


def has_report_command() -> bool:
    run = subprocess.run([sys.executable, "-m", "diffclip.cli", "errors", "--help"], capture_output=True, cwd=ROOT)
    return run.returncode == 0


def shoot_report(page, tmp: Path) -> Path:
    """``diffclip errors`` on the bundled set into ``tmp``, its report.html opened from disk."""
    out = tmp / "report"
    # paths relative to the repository: the report shows them, and a picture for the README has no machine paths
    subprocess.run([sys.executable, "-m", "diffclip.cli", "errors", "demo/heldout", "--checkpoint", "demo/weights/diff",
                    "--out", str(out), "--top", "4"], check=True, cwd=ROOT)
    page.goto((out / "report.html").as_uri(), wait_until="load")
    page.wait_for_timeout(500)
    height = min(page.evaluate("document.documentElement.scrollHeight"), 2600)
    png = page.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": 1400, "height": height})
    return save_small(png, OUT / "errors-report.png")


def shoot(url: str, label: str, tmp: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", headless=True,
                                    args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            saved.append(shoot_tab(page, url, label))
            if has_report_command():
                saved.append(shoot_report(page, tmp))
            else:
                print("no `diffclip errors` command yet: docs/img/errors-report.png not made")
        finally:
            browser.close()
    return saved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="lymphangioectasis", help="the label whose mistakes are shown")
    parser.add_argument("--url", help="an app already running (default: start one on a free port)")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            saved = shoot(args.url.rstrip("/") + "/", args.label, Path(tmp))
        else:
            with launch_app(sys.executable, ROOT, Path(tmp) / "app.log") as app:
                saved = shoot(app.url, args.label, Path(tmp))
    for path in saved:
        print(path.relative_to(ROOT), f"{path.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
