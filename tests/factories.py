"""Factories for tests: queue configs and a first model trained on real bundled data.

The model is trained on scikit-learn's bundled breast-cancer set relabelled "legit"/"fraud":
real, labelled, tabular and instant to load — the shape of a fraud queue, not its meaning.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sklearn.datasets import load_breast_cancer
from sqlalchemy.orm import Session, sessionmaker

from bot.config import HitlConfig, parse_config
from models.training import train_initial

LABELS = ("legit", "fraud")


def config_toml(**queues: dict[str, Any]) -> str:
    """TOML text for ``queues`` (name → fields); ``kind``/``channel``/``labels`` default to a
    tabular fraud queue in channel C0REVIEW."""
    parts = []
    for name, fields in queues.items():
        body = {"kind": "tabular", "channel": "C0REVIEW", "labels": list(LABELS), **fields}
        lines = [f"[queues.{name}]"]
        for key, value in body.items():
            lines.append(f"{key} = {_toml(value)}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)


def make_config(**queues: dict[str, Any]) -> HitlConfig:
    return parse_config(config_toml(**queues))


@cache
def cancer_rows() -> tuple[list[dict[str, Any]], list[str]]:
    data = load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names]
    payloads = [{"features": dict(zip(names, map(float, row), strict=True))} for row in data.data]
    # target 0 = malignant: the rarer, "positive" class plays fraud.
    y = [LABELS[1] if t == 0 else LABELS[0] for t in data.target]
    return payloads, y


def seed_model(sessions: sessionmaker[Session], queue: str = "fraud") -> str:
    payloads, y = cancer_rows()
    with sessions.begin() as session:
        version = train_initial(
            session=session,
            queue=queue,
            kind="tabular",
            labels=LABELS,
            payloads=payloads[:300],
            y=y[:300],
        )
        return version.version


def items_for(n: int, *, start: int = 300, prefix: str = "t") -> list[dict[str, Any]]:
    """API items from the rows the seed model did not see."""
    payloads, _ = cancer_rows()
    return [
        {"id": f"{prefix}-{i}", **payloads[start + i % (len(payloads) - start)]} for i in range(n)
    ]
