"""The "Words and docs" tab: the whole glossary (demo.glossary), then the docs its entries point to, rendered
here because a Space visitor cannot open the repository's Markdown files from the app."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr

from .. import glossary
from .base import AppContext, Tab

ROOT = Path(__file__).resolve().parents[2]
IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)]+)\)\s*$", re.M)


def sections(doc: str) -> dict[str, str]:
    """A Markdown document's ``## `` sections by title (the text before the first one under "")."""
    parts = re.split(r"^## (.+)$", doc, flags=re.M)
    found = {"": parts[0]}
    found.update({title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)})
    return found


def cited_sections() -> dict[str, list[str]]:
    """Per doc key (demo.glossary.DOCS), the section titles the glossary points to, in glossary order."""
    out: dict[str, list[str]] = {}
    for term in glossary.TERMS:
        doc, _, title = term.more.partition(": ")
        if doc and title not in out.setdefault(doc, []):
            out[doc].append(title)
    return out


def _render(text: str, folder: Path) -> None:
    """Markdown with its pictures as image components (a relative path in Markdown would not load here)."""
    last = 0
    for m in IMAGE.finditer(text):
        gr.Markdown(text[last:m.start()])
        gr.Image(str(folder / m.group(2)), label=m.group(1), show_label=True, interactive=False,
                 buttons=["fullscreen"])
        last = m.end()
    gr.Markdown(text[last:])


def build(ctx: AppContext) -> None:
    gr.Markdown("**What the words mean.** One or two plain sentences per term; the same list is under every "
                "tab (closed). Below it, the sections of the project's docs that each entry points to.")
    gr.Markdown(glossary.glossary_markdown(), elem_id="glossary-full")
    for key, titles in cited_sections().items():
        path = ROOT / glossary.DOCS[key]
        if not path.is_file():  # an install without the docs folder still serves the glossary
            continue
        found = sections(path.read_text(encoding="utf-8"))
        for title in titles:
            with gr.Accordion(f"{glossary.DOCS[key]}: {title}", open=False):
                _render(found[title], path.parent)


TAB = Tab("words", "Words and docs", build)
