"""The offline report of an error analysis: one self-contained ``report.html`` (inline CSS, the figure as a
data URI, overlays referenced beside it under ``images/``; no network address anywhere) that reads in
light and dark, and :func:`export_report`, which writes the whole report folder in one call.

Every text from the analysis (labels, video ids, paths, tag notes) is escaped."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path

import numpy as np

from diffclip.error_analysis.model_pass import ModelPass

Progress = Callable[[float, str], None] | None
LIST_LIMIT = 12  # segments listed per cell of the event tables; errors.json holds them all

CSS = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1c1c1c; --muted: #5b5b5b; --line: #d4d4d4;
  --card: #f4f4f4; --shade: 31, 119, 180; --bad: #b3261e; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #141414; --fg: #e6e6e6; --muted: #a6a6a6; --line: #3b3b3b; --card: #202020;
    --shade: 86, 156, 226; --bad: #f28b82; }
}
body { background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  margin: 1.5rem auto; max-width: 1200px; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin-bottom: .3rem; }
.muted { color: var(--muted); } .bad { color: var(--bad); }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: .2rem .45rem; text-align: right; vertical-align: top; }
th { background: var(--card); } td.text, th.text { text-align: left; }
td.list { text-align: left; font-size: 12px; max-width: 22rem; }
img { background: #ffffff; border-radius: 4px; max-width: 100%; height: auto; }
.gallery { display: flex; flex-wrap: wrap; gap: .8rem; }
figure { margin: 0; background: var(--card); padding: .4rem; border-radius: 6px; max-width: 100%; }
figcaption { font-size: 12px; margin-top: .25rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; } dt { color: var(--muted); }
"""


def _e(value) -> str:
    return escape(str(value), quote=True)


def _num(value, fmt: str = "{:.3f}") -> str:
    return "—" if value is None else fmt.format(value)


def _seg(seg: Sequence[int]) -> str:
    return f"{int(seg[0])}–{int(seg[1])}"


def synthetic_note(data: str) -> str | None:
    """A sentence when ``data`` (or the folder above it) was made by the synthetic generator, which writes
    a ``synth.json`` beside its videos; None otherwise."""
    for root in (Path(data), Path(data).parent):
        marker = root / "synth.json"
        if not marker.is_file():
            continue
        try:
            made = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if isinstance(made, dict) and made.get("generator") == "training.synthetic":
            seed = made.get("config", {}).get("seed")
            return (f"The frames are synthetic (made by training.synthetic{f', seed {seed}' if seed is not None else ''}):"
                    " these numbers measure the model on generated frames, not on capsule video.")
    return None


def threshold_note(doc: Mapping, mp: ModelPass) -> str:
    """Which thresholds the counts use: the checkpoint's, or which labels' differ from them."""
    differ = [f"{lab} {c['threshold']:.2f} (checkpoint {float(mp.thresholds[j]):.2f})"
              for j, (lab, c) in enumerate(doc["labels"].items()) if abs(c["threshold"] - float(mp.thresholds[j])) > 1e-6]
    rule = "a frame counts as predicted for a label when its probability p ≥ t"
    if not differ:
        return f"Thresholds t are the checkpoint's per-label ones; {rule}."
    return f"Thresholds t were set for this analysis; they differ from the checkpoint's for {', '.join(differ)}; {rule}."


def _header(doc: Mapping, mp: ModelPass) -> str:
    rows = [("checkpoint", doc["checkpoint"]), ("data", doc["data"]),
            ("frames with truth", doc["frames"]), ("frames without truth (not counted)", doc["frames_without_truth"]),
            ("model pass", f"{doc['pass']['key']} ({'read from the cache' if doc['pass']['cached'] else 'run'})")]
    overlays = doc.get("overlays")
    if overlays:
        rows.append(("explanations", f"{overlays['title']} for the mistaken label; attention of the "
                                     f"{overlays['attention']}"))
    notes = [threshold_note(doc, mp)]
    # set by export_report from where the frames really are (doc["data"] is only what the report calls them)
    synthetic = doc.get("synthetic", synthetic_note(doc["data"]))
    if synthetic:
        notes.append(synthetic)
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return "<h1>Error analysis</h1><dl>" + items + "</dl>" + "".join(f"<p>{_e(n)}</p>" for n in notes)


def _label_table(doc: Mapping) -> str:
    head = ["label", "threshold", "support", "TP", "FP", "FN", "TN", "precision", "recall", "F1", "AP"]
    out = ['<h2 id="frame-level">Frame-level counts per label</h2>', '<table id="labels"><thead><tr>']
    out += [f'<th class="{"text" if h == "label" else ""}">{_e(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for lab, c in doc["labels"].items():
        cells = [f'<td class="text">{_e(lab)}</td>', f"<td>{c['threshold']:.2f}</td>", f"<td>{c['support']}</td>"]
        cells += [f"<td>{c[k]}</td>" for k in ("tp", "fp", "fn", "tn")]
        cells += [f"<td>{_num(c[k])}</td>" for k in ("precision", "recall", "f1", "ap")]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    out.append('<p class="muted">Support: frames with the label. A ratio with nothing to divide by, and the AP '
               "of a label without positive frames, show as —.</p>")
    return "".join(out)


def _pr_section(doc: Mapping, mp: ModelPass) -> str:
    from .figures import png_bytes, pr_figure

    rows = np.flatnonzero(mp.known)
    fig = pr_figure(mp.truth[rows], mp.probs[rows], list(doc["labels"]), doc["labels"])
    data = base64.b64encode(png_bytes(fig)).decode("ascii")
    return ('<h2 id="pr">Precision-recall curves</h2>'
            f'<img src="data:image/png;base64,{data}" alt="precision-recall curve of each label">')


def _sections_table(doc: Mapping) -> str:
    s = doc["sections"]
    names, matrix = s["sections"], s["matrix"]
    out = ['<h2 id="sections">Section confusion</h2>',
           '<p class="muted">Rows: each frame\'s true section; columns: the section the model rates highest. '
           "Shading: share of the row.</p>",
           '<table id="sections-matrix"><thead><tr><th class="text">true \\ predicted</th>']
    out += [f"<th>{_e(n)}</th>" for n in names]
    out.append("</tr></thead><tbody>")
    for i, name in enumerate(names):
        total = sum(matrix[i]) or 1
        cells = []
        for k, v in enumerate(matrix[i]):
            style = f"background: rgba(var(--shade), {0.75 * v / total:.2f})"
            text = f"<b>{v}</b>" if i == k else str(v)
            cells.append(f'<td style="{style}">{text}</td>')
        out.append(f'<tr><th class="text">{_e(name)}</th>{"".join(cells)}</tr>')
    out.append("</tbody></table>")
    out.append(f"<p>{s['frames']} frames with exactly one true section are in the matrix; "
               f"{s['without_one_section']} frames without exactly one (none, or several) are not.</p>")
    return "".join(out)


def _tag_index(tags: Sequence[Mapping] | None) -> dict[tuple, Mapping]:
    from diffclip.error_analysis.tags import tag_key

    return {tag_key(t): t for t in tags or []}


def _figure(item: Mapping, label: str, kind: str, rank: int, threshold: float, tags: Mapping) -> str:
    others = ", ".join(item["other_true_labels"]) or "none"
    caption = [f"<b>#{rank}</b> video {_e(item['video_id'])}, frame {int(item['frame'])} · "
               f"p = {item['probability']:.3f} (t = {threshold:.2f}) · other true labels: {_e(others)}"]
    t = tags.get((str(item["video_id"]), int(item["frame"]), label, kind))
    if t is not None:
        note = f" — {_e(t['note'])}" if t.get("note") else ""
        caption.append(f"<br>tag: <b>{_e(t['cause'])}</b>{note}")
    image = item.get("image")
    img = (f'<img src="{_e(image)}" loading="lazy" alt="{_e(f"{kind} {rank} of {label}")}">' if image else "")
    return f"<figure>{img}<figcaption>{''.join(caption)}</figcaption></figure>"


def _galleries(doc: Mapping, tags: Sequence[Mapping] | None) -> str:
    index = _tag_index(tags)
    overlays = doc.get("overlays")
    out = ['<h2 id="mistakes">Most confident mistakes</h2>',
           '<p class="muted">False positives: frames without the label rated at or above its threshold, most '
           "confident first. False negatives: frames with the label rated below it, lowest first.</p>"]
    if overlays:
        out.append(f'<p class="muted">Each picture: the crop the model saw; the model\'s attention '
                   f"({_e(overlays['attention'])}: a1 − λ·a2 for a differential model, the softmax map otherwise); "
                   f"{_e(overlays['title'])} for the mistaken label. Each map has its colour bar. Green outline: the "
                   "frame's lesion mask, where one is known.</p>")
    shown = False
    for label, kinds in doc["top"].items():
        if not kinds.get("fp") and not kinds.get("fn"):
            continue
        shown = True
        threshold = doc["labels"][label]["threshold"]
        out.append(f'<h3>{_e(label)} <span class="muted">(t = {threshold:.2f})</span></h3>')
        for kind, title in (("fp", "false positive"), ("fn", "false negative")):
            items = kinds.get(kind, [])
            if not items:
                continue
            out.append(f"<h4>{len(items)} {title}{'s' if len(items) > 1 else ''}</h4><div class=\"gallery\">")
            out += [_figure(item, label, kind, r, threshold, index) for r, item in enumerate(items, start=1)]
            out.append("</div>")
    if not shown:
        out.append("<p>No mistakes at these thresholds.</p>")
    return "".join(out)


def _limited(parts: list[str]) -> str:
    more = len(parts) - LIST_LIMIT
    text = "; ".join(parts[:LIST_LIMIT])
    return text + (f"; … and {more} more (errors.json lists all)" if more > 0 else "")


def _events(doc: Mapping) -> str:
    ev = doc["events"]
    out = ['<h2 id="events">Event-level errors per video</h2>',
           f'<p class="muted">The challenge\'s matching: predicted segments, in order, each matched to the first '
           f"unmatched truth segment with tIoU ≥ {ev['tiou']}. Missed: truth no prediction matched (its best "
           "overlap); spurious: predictions overlapping no truth; boundary: a matched prediction with tIoU below 1, "
           "or an unmatched one overlapping truth. Labels with neither truth nor prediction are left out.</p>"]
    head = ["label", "truth", "predicted", "matched", "AP@0.5", "AP@0.95", "missed", "spurious", "boundary"]
    for vid, labels in ev["videos"].items():
        out.append(f"<h3>video {_e(vid)}</h3>")
        if not labels:
            out.append("<p>No truth and no predictions.</p>")
            continue
        out.append("<table><thead><tr>" + "".join(
            f'<th class="{"text" if h in ("label", "missed", "spurious", "boundary") else ""}">{_e(h)}</th>'
            for h in head) + "</tr></thead><tbody>")
        for lab, e in labels.items():
            missed = [f"{_seg(m['truth'])} (best tIoU {m['best_tiou']:.2f})" for m in e["missed"]]
            spurious = [_seg(s) for s in e["spurious"]]
            boundary = [f"{_seg(b['pred'])} vs {_seg(b['truth'])}: tIoU {b['tiou']:.2f}"
                        f"{'' if b['matched'] else ' (unmatched)'}" for b in e["boundary"]]
            cells = [f'<td class="text">{_e(lab)}</td>'] + [f"<td>{e[k]}</td>" for k in ("truth", "predicted", "matched")]
            cells += [f"<td>{_num(e['ap'].get(k), '{:.3f}')}</td>" for k in ("0.5", "0.95")]
            cells += [f'<td class="list">{_e(_limited(p))}</td>' for p in (missed, spurious, boundary)]
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
    return "".join(out)


def _tags_table(tags: Sequence[Mapping]) -> str:
    from diffclip.error_analysis.tags import COLUMNS, tag_key

    out = ['<h2 id="tags">Tags</h2>', '<table id="tags-table"><thead><tr>']
    out += [f'<th class="text">{_e(c)}</th>' for c in COLUMNS]
    out.append("</tr></thead><tbody>")
    for t in sorted(tags, key=tag_key):
        out.append("<tr>" + "".join(f'<td class="text">{_e(t[c])}</td>' for c in COLUMNS) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def report_html(doc: Mapping, mp: ModelPass, tags: Sequence[Mapping] | None = None) -> str:
    """The report as one HTML string."""
    from .report_research import calibration_section, embedding_section, label_issues_section, slices_section

    parts = [_header(doc, mp), _label_table(doc), _pr_section(doc, mp), calibration_section(doc), _sections_table(doc),
             slices_section(doc), embedding_section(doc, mp), _galleries(doc, tags), label_issues_section(doc),
             _events(doc)]
    if tags:
        parts.append(_tags_table(tags))
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Error analysis: {_e(doc['checkpoint'])}</title><style>{CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")


def write_report(out_dir: str | Path, doc: Mapping, mp: ModelPass, tags: Sequence[Mapping] | None = None) -> Path:
    """Write ``out_dir/report.html`` (atomically) for an ``errors_document`` and its model pass; top items
    with an ``"image"`` (relative to ``out_dir``) show it. Returns the path."""
    from diffclip.atomic import atomic_path

    path = Path(out_dir) / "report.html"
    text = report_html(doc, mp, tags)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def export_report(out_dir: str | Path, doc: Mapping, mp: ModelPass, data, predictor, method: str,
                  tags: Sequence[Mapping] | None = None, progress: Progress = None) -> Path:
    """The whole report folder in one call: an overlay per top mistake under ``images/``, ``errors.json``
    (the document with each top item's ``"image"`` and the explanation used), ``report.html`` and, with
    ``tags``, ``tags.csv``. ``data`` is the :class:`~diffclip.error_analysis.labelled_set.LabelledSet` analysed, ``method``
    a registered explanation method; ``progress`` an optional callable (fraction, description). ``doc``
    itself is left as it was. Returns the report's path."""
    from diffclip.atomic import atomic_path, write_json
    from diffclip.error_analysis.tags import tags_csv

    from ..methods import get_explainer
    from .overlays import write_overlays

    explainer = get_explainer(method)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = copy.deepcopy(dict(doc))
    doc["synthetic"] = synthetic_note(data.data)
    step = None if progress is None else (lambda f, d: progress(0.9 * f, d))
    n = write_overlays(out_dir, doc, data, predictor, explainer.name, progress=step)
    doc["overlays"] = {"method": explainer.name, "title": explainer.title, "attention": "last layer, head mean",
                       "images": n}
    write_json(out_dir / "errors.json", doc)
    if tags is not None:
        with atomic_path(out_dir / "tags.csv") as tmp:
            tmp.write_text(tags_csv(tags), encoding="utf-8")
    if progress is not None:
        progress(0.95, "writing report.html")
    path = write_report(out_dir, doc, mp, tags)
    if progress is not None:
        progress(1.0, "report written")
    return path
