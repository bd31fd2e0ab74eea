"""`hitl models` as text: one line per version, then its gate's figures and reason indented.

The first line keeps its shape (version, mark, state, n_train, hold-out metrics), tab
separated, so scripts reading the first columns still work; the indented lines below it say how
the gate judged a candidate: each metric of each slice before → after, the floors of the ratchet,
what was not judged and why.
"""

from __future__ import annotations

from collections.abc import Iterator

from models.retraining import slices_of
from storage.tables import ModelVersion

_SHORT = {
    "average_precision": "AP",
    "log_loss": "log loss",
    "macro_f1": "macro-F1",
    "brier": "Brier",
}


def version_lines(v: ModelVersion) -> Iterator[str]:
    holdout = v.metrics.get("holdout", {})
    figures = " ".join(f"{k}={val:.4f}" for k, val in holdout.items() if isinstance(val, float))
    mark = "*" if v.state == "current" else " "
    yield f"{v.version}\t{mark} {v.state}\tn_train={v.n_train}\t{figures}"
    slices = slices_of(v)
    by_slice: dict[str, list[str]] = {}
    for s in slices:
        name = s.name if s.against is None else f"{s.name} vs {s.against} (best earlier)"
        metric = _SHORT.get(s.metric, s.metric)
        if s.n == 0:
            continue
        if s.candidate is None:
            text = f"{metric} undefined"
        elif s.current is None:
            text = f"{metric} {s.candidate:.3f}"
        else:
            noise = "" if s.noise is None else f" ±{s.noise:.3f}"
            text = f"{metric} {s.current:.3f}→{s.candidate:.3f}{noise}"
        if s.unjudged:
            text += " (not judged)"
        by_slice.setdefault(f"{name} n={s.n}", []).append(text)
    for name, texts in by_slice.items():
        yield f"    gate {name}: " + ", ".join(texts)
    reason = v.info.get("reason")
    if reason:
        verdict = "rejected" if v.state == "rejected" else "promoted"
        yield f"    {verdict}: {reason}"
