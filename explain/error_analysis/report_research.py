"""The report's research sections (issue 30): calibration with its reliability diagrams, likely label errors
kept apart from the model's, and weak slices; each reads ``errors.json``'s entry of the same name."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping

SHOWN_ISSUES = 50  # label issues listed in the report (errors.json keeps them all)
SHOWN_SLICES = 30  # weakest slices listed


def _e(value) -> str:
    return html.escape(str(value))


def calibration_section(doc: Mapping) -> str:
    """The reliability diagrams, the macro and pooled ECE, and the binning stated once."""
    from .figures import png_bytes, reliability_figure

    cal = doc.get("calibration")
    if not cal:
        return ""
    data = base64.b64encode(png_bytes(reliability_figure(cal))).decode("ascii")
    macro = cal["macro"]
    ece = "—" if macro["ece"] is None else f"{macro['ece']:.3f}"
    pooled = "—" if macro["pooled_ece"] is None else f"{macro['pooled_ece']:.3f}"
    return ('<h2 id="calibration">Calibration</h2>'
            f"<p>Expected calibration error, macro (mean over the {macro['labels_with_positives']} labels with "
            f"positive frames): <b>{ece}</b>; every (frame, label) pooled: <b>{pooled}</b>.</p>"
            f'<p class="muted">Binning: {_e(cal["binning"])}.</p>'
            f'<img src="data:image/png;base64,{data}" alt="reliability diagram of each label">')


def label_issues_section(doc: Mapping) -> str:
    """The frames whose given labels the model contradicts with confidence, most suspicious first."""
    issues = doc.get("label_issues")
    if issues is None:
        return ""
    out = ['<h2 id="label-issues">Likely label errors</h2>',
           '<p class="muted">Kept apart from the model\'s mistakes: frames whose given value of a label the model '
           "confidently contradicts (confident learning, Northcutt et al., JAIR 2021: per label, thresholds from "
           "the model's mean confidence on the frames given each value). Score: 1 − the probability the model gives "
           "the given value. A high score is a reason to look at the frame's truth, not proof that it is wrong.</p>"]
    if not issues:
        return "".join(out) + "<p>None: the model contradicts no given label with confidence.</p>"
    out.append(f"<p>{len(issues)} found; the first {min(len(issues), SHOWN_ISSUES)} listed (errors.json keeps "
               "them all).</p>")
    rows = [[d["video_id"], d["frame"], d["label"], "yes" if d["given"] else "no", f"{d['probability']:.3f}",
             f"{d['score']:.3f}"] for d in issues[:SHOWN_ISSUES]]
    out.append(_table("label-issues-table", ["video", "frame", "label", "given", "probability", "score"],
                      {"video", "label", "given"}, rows))
    return "".join(out)


def _table(table_id: str, head: list[str], text: set[str], rows: list[list]) -> str:
    """An HTML table; the columns named in ``text`` are left-aligned words, the others numbers."""
    cls = [' class="text"' if h in text else "" for h in head]
    out = [f'<table id="{table_id}"><thead><tr>', *(f"<th{c}>{_e(h)}</th>" for c, h in zip(cls, head, strict=True)),
           "</tr></thead><tbody>"]
    out += ["<tr>" + "".join(f"<td{c}>{_e(v)}</td>" for c, v in zip(cls, row, strict=True)) + "</tr>" for row in rows]
    return "".join(out) + "</tbody></table>"


def slices_section(doc: Mapping) -> str:
    """The weakest (label, cohort) pairs: error rate with its interval beside the label's overall rate."""
    slices = doc.get("slices")
    if slices is None:
        return ""
    out = ['<h2 id="slices">Weak slices</h2>',
           '<p class="muted">Per label, the error rate (false positives and false negatives over the frames) in '
           "each cohort the data has (true section, video, out-of-distribution flag, brightness third), beside the "
           "label's rate over all frames; Wilson 95% intervals; cohorts under 5 frames left out. Sorted by how "
           "much worse than the label's own rate.</p>"]
    worse = [d for d in slices if d["excess"] > 0][:SHOWN_SLICES]
    if not worse:
        return "".join(out) + "<p>No cohort is worse than its label's overall rate.</p>"
    rows = [[d["label"], f"{d['cohort']}: {d['value']}", d["frames"], d["errors"],
             f"{d['rate']:.2f} [{d['ci'][0]:.2f}, {d['ci'][1]:.2f}]", f"{d['label_rate']:.2f}", f"+{d['excess']:.2f}"]
            for d in worse]
    out.append(_table("slices-table", ["label", "cohort", "frames", "errors", "rate [95% CI]", "label's rate",
                                       "excess"], {"label", "cohort"}, rows))
    return "".join(out)


def embedding_section(doc: Mapping, mp) -> str:
    """The feature map, static: coloured by true section and by whether the frame has any mistake at the
    report's thresholds, with the trustworthiness of the map beside a PCA's."""
    import numpy as np
    from matplotlib.figure import Figure

    from diffclip.labels import SECTIONS

    from .figures import png_bytes

    emb = doc.get("embedding")
    if not emb or not emb.get("points"):
        return ""
    where = {(str(v), int(f)): i for i, (v, f) in enumerate(zip(mp.video_ids, mp.frames, strict=True))}
    rows = np.array([where[(p["video_id"], p["frame"])] for p in emb["points"]])
    xy = np.array([[p["x"], p["y"]] for p in emb["points"]])
    labels = list(mp.labels)
    thresholds = np.array([doc["labels"][lab]["threshold"] for lab in labels])
    wrong = ((mp.probs[rows] >= thresholds[None, :]) != mp.truth[rows]).any(axis=1)
    idx = [labels.index(s) for s in SECTIONS if s in labels]
    fig = Figure(figsize=(11, 4.6), dpi=100, facecolor="white", layout="constrained")
    left, right = fig.subplots(1, 2)
    for j in idx:
        sel = mp.truth[rows, j] & (mp.truth[rows][:, idx].sum(axis=1) == 1)
        left.scatter(xy[sel, 0], xy[sel, 1], s=8, label=f"{labels[j]} ({int(sel.sum())})", linewidths=0)
    right.scatter(xy[~wrong, 0], xy[~wrong, 1], s=6, color="#adb5bd", label=f"no mistake ({int((~wrong).sum())})",
                  linewidths=0)
    right.scatter(xy[wrong, 0], xy[wrong, 1], s=10, color="#c92a2a", label=f"a mistake ({int(wrong.sum())})",
                  linewidths=0)
    for ax, title in ((left, "true section"), (right, "any false positive or negative at the thresholds")):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, frameon=False, loc="best")
    data = base64.b64encode(png_bytes(fig)).decode("ascii")
    t = emb.get("trustworthiness") or {}
    kept = (f" Trustworthiness ({t['neighbours']} neighbours, {t['frames']} frames; 1 = every neighbour on the map "
            f"is a neighbour in feature space): the map {t['map']:.3f}, a 2-D PCA {t['pca']:.3f}."
            if t.get("map") is not None else "")
    return ('<h2 id="embedding">Feature map</h2>'
            f'<p class="muted">{_e(emb["method"])}: {emb["frames_mapped"]} of {emb["frames"]} frames with known truth.'
            f"{_e(kept)} Frames the model sees alike lie close; far distances mean little.</p>"
            f'<img src="data:image/png;base64,{data}" alt="feature map of the frames">')
