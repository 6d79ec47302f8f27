"""Error analysis of a model on a labelled set: one cached model pass, then frame-level counts at any
thresholds, the most confident mistakes, and event-level errors under the challenge's matching
(docs/design.md, "Error analysis"). Explanations and the HTML report are built on top, in ``explain``."""
