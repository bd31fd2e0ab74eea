"""Reading labelled and unlabelled files for ``hitl train`` and ``hitl ingest``.

CSV (with a header) and JSON Lines. Every record remembers the line it started on, so any error
further down names the file and the line a person has to fix.

CSV has no types: a cell that parses as a finite number becomes a float, anything else stays a
string (a category), an empty cell is missing. JSON Lines is typed already and is taken as the API
would take it: a JSON string stays a string even when it looks like a number.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from models.errors import BadTrainingData
from models.pipelines import Kind

CSV_SUFFIXES = frozenset({".csv"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})


class Record(dict[str, Any]):
    """One row of a file: its columns, plus where it came from for error messages."""

    def __init__(self, values: Mapping[str, Any], *, where: str, typed: bool) -> None:
        super().__init__(values)
        self.where = where  # e.g. "data.csv line 7"
        self.typed = typed  # False for CSV, whose cells are all strings


def _read_csv(path: Path) -> Iterator[Record]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise BadTrainingData(f"{path.name} is empty: a header line is required") from None
        except csv.Error as exc:
            raise BadTrainingData(f"{path.name} line 1: {exc}") from exc
        names = [name.strip() for name in header]
        if not any(names) or "" in names or len(set(names)) != len(names):
            raise BadTrainingData(
                f"{path.name} line 1: the header must name every column once, got {header}"
            )
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise BadTrainingData(f"{path.name} line {start}: {exc}") from exc
            where = f"{path.name} line {start}"
            start = reader.line_num + 1
            if not row or all(not cell.strip() for cell in row):
                continue  # a blank line, often at the end of a file
            if len(row) != len(names):
                raise BadTrainingData(
                    f"{where}: {len(row)} fields where the header has {len(names)}"
                )
            yield Record(dict(zip(names, row, strict=True)), where=where, typed=False)


def _read_jsonl(path: Path) -> Iterator[Record]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadTrainingData(f"{where}: not valid JSON ({exc.msg})") from exc
            if not isinstance(value, dict):
                raise BadTrainingData(
                    f"{where}: expected a JSON object, got {type(value).__name__}"
                )
            yield Record(value, where=where, typed=True)


def read_records(path: Path) -> Iterator[Record]:
    """Yield the records of a ``.csv`` (header required) or ``.jsonl``/``.ndjson`` file."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _read_csv(path)
    if suffix in JSONL_SUFFIXES:
        return _read_jsonl(path)
    raise BadTrainingData(
        f"{path.name}: unsupported file type {suffix or '(none)'!r}; use .csv, .jsonl or .ndjson"
    )


def _where(record: Mapping[str, Any], index: int) -> str:
    return getattr(record, "where", f"record {index + 1}")


def _feature_value(record: Mapping[str, Any], name: str, value: Any, where: str) -> Any:
    """A feature cell as the API would send it: number, string, or None for missing."""
    if value is None:
        return None
    if isinstance(value, str) and not getattr(record, "typed", True):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else None
    if isinstance(value, bool | int | float | str):
        return value
    raise BadTrainingData(
        f"{where}: column {name!r} must hold a number or a string, not {type(value).__name__}"
    )


def _features(
    record: Mapping[str, Any], where: str, exclude: frozenset[str]
) -> dict[str, float | str]:
    nested = record.get("features")
    # An API-shaped JSON line ({"id", "features": {...}}) is taken as it is.
    source = nested if isinstance(nested, Mapping) else record
    features: dict[str, Any] = {}
    for name, raw in source.items():
        if source is record and name in exclude:
            continue
        value = _feature_value(record, str(name), raw, where)
        if value is not None:
            features[str(name)] = value
    return features


def _text(record: Mapping[str, Any], where: str) -> str:
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadTrainingData(f"{where}: a text queue needs a non-empty 'text' column")
    return text


def labelled_examples(
    records: Iterable[Mapping[str, Any]],
    *,
    kind: Kind,
    label_column: str = "label",
    labels: Sequence[str],
    id_column: str = "id",
) -> tuple[list[dict[str, Any]], list[str]]:
    """Split records into API-shaped payloads and their labels.

    tabular: every column except the label and the id is a feature. text: the ``text`` column.
    A label outside ``labels`` is refused rather than silently creating a class the queue's
    buttons cannot show.
    """
    allowed = [str(label) for label in labels]
    exclude = frozenset({label_column, id_column})
    payloads: list[dict[str, Any]] = []
    y: list[str] = []
    for index, record in enumerate(records):
        where = _where(record, index)
        raw_label = record.get(label_column)
        if raw_label is None or (isinstance(raw_label, str) and not raw_label.strip()):
            raise BadTrainingData(f"{where}: no value in label column {label_column!r}")
        label = str(raw_label).strip()  # JSON may spell a label as a number: 0 / 1
        if label not in allowed:
            raise BadTrainingData(
                f"{where}: label {label!r} is not one of the queue's labels {allowed}"
            )
        if kind == "text":
            payloads.append({"text": _text(record, where)})
        else:
            payloads.append({"features": _features(record, where, exclude)})
        y.append(label)
    return payloads, y


def record_ids(records: Iterable[Mapping[str, Any]], id_column: str = "id") -> list[str | None]:
    """Each record's id (``None`` where it has none): a labelled file's ids are kept, so a row
    posted later as a control item can show the id of the real past case it was."""
    ids: list[str | None] = []
    for record in records:
        raw = record.get(id_column)
        text = "" if raw is None else str(raw).strip()
        ids.append(text or None)
    return ids


def _context(
    record: Mapping[str, Any], where: str, columns: Sequence[str]
) -> dict[str, float | str]:
    nested = record.get("context")
    context: dict[str, Any] = dict(nested) if isinstance(nested, Mapping) else {}
    for name in columns:
        value = _feature_value(record, name, record.get(name), where)
        if value is not None:
            context[name] = value
    return context


def unlabelled_items(
    records: Iterable[Mapping[str, Any]],
    *,
    kind: Kind,
    id_column: str = "id",
    context_columns: Sequence[str] = (),
    ignore_columns: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Turn records into items for ``POST /v1/queues/{queue}/items``.

    Each item is ``{"id", "features" | "text", "context"?}``; ids must be present and unique.
    ``context_columns`` are shown to reviewers and kept out of the features; ``ignore_columns``
    (a label column in a file you ingest, say) are dropped so they cannot leak into the model.
    """
    exclude = frozenset({id_column, "context", *context_columns, *ignore_columns})
    seen: dict[str, str] = {}
    items: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        where = _where(record, index)
        raw_id = record.get(id_column)
        item_id = "" if raw_id is None else str(raw_id).strip()
        if not item_id:
            raise BadTrainingData(f"{where}: no value in id column {id_column!r}")
        if item_id in seen:
            raise BadTrainingData(f"{where}: id {item_id!r} already used at {seen[item_id]}")
        seen[item_id] = where
        item: dict[str, Any] = {"id": item_id}
        if kind == "text":
            item["text"] = _text(record, where)
        else:
            item["features"] = _features(record, where, exclude)
        context = _context(record, where, context_columns)
        if context:
            item["context"] = context
        items.append(item)
    return items
