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
    out.append('<table id="label-issues-table"><thead><tr><th class="text">video</th><th>frame</th>'
               '<th class="text">label</th><th class="text">given</th><th>probability</th><th>score</th></tr>'
               "</thead><tbody>")
    for d in issues[:SHOWN_ISSUES]:
        out.append(f'<tr><td class="text">{_e(d["video_id"])}</td><td>{d["frame"]}</td>'
                   f'<td class="text">{_e(d["label"])}</td><td class="text">{"yes" if d["given"] else "no"}</td>'
                   f'<td>{d["probability"]:.3f}</td><td>{d["score"]:.3f}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


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
    out.append('<table id="slices-table"><thead><tr><th class="text">label</th><th class="text">cohort</th>'
               "<th>frames</th><th>errors</th><th>rate [95% CI]</th><th>label's rate</th><th>excess</th></tr>"
               "</thead><tbody>")
    for d in worse:
        lo, hi = d["ci"]
        out.append(f'<tr><td class="text">{_e(d["label"])}</td><td class="text">{_e(d["cohort"])}: '
                   f'{_e(d["value"])}</td><td>{d["frames"]}</td><td>{d["errors"]}</td>'
                   f'<td>{d["rate"]:.2f} [{lo:.2f}, {hi:.2f}]</td><td>{d["label_rate"]:.2f}</td>'
                   f'<td>+{d["excess"]:.2f}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)
