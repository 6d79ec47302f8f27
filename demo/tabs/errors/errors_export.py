"""The Errors tab's report: the session's analysis at its thresholds, with its tags, written by
``explain.error_analysis.report_page.export_report`` (report.html, errors.json, an explained picture per top mistake
under images/, tags.csv) into the session's folder and zipped for download. The pictures run the model."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from diffclip.error_analysis.document import errors_document
from diffclip.inference import Predictor
from explain.error_analysis.report_page import export_report

from ...frames_view import DEFAULT_METHOD
from .errors_view import ErrorsState, labelled_set

REPORT_TOP = 4  # mistakes per label and kind in the report, each explained


def report_zip(state: ErrorsState, predictor: Predictor, checkpoint: str, data_name: str,
               method: str = DEFAULT_METHOD, progress: Callable[[float, str], None] | None = None,
               top: int = REPORT_TOP) -> Path:
    """``errors-report.zip`` in the session's folder: the report of ``state`` at its thresholds with its tags.
    ``checkpoint`` and ``data_name`` are what the report calls them (never a server path)."""
    if state.folder is None:
        raise ValueError("this analysis has no folder to write its report in; analyse again")
    data = labelled_set(state.data)
    doc = errors_document(state.mp, data.truth_events, checkpoint, data_name,
                          thresholds=state.thresholds, k=top)
    out = state.folder / "report"
    shutil.rmtree(out, ignore_errors=True)  # the previous export of this session
    export_report(out, doc, state.mp, data, predictor, method, tags=list(state.tags.values()), progress=progress)
    archive = shutil.make_archive(str(state.folder / "errors-report"), "zip", root_dir=out)
    return Path(archive)
