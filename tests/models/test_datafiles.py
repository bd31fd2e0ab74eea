"""Reading training and ingestion files; every error names the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.datafiles import labelled_examples, read_records, unlabelled_items
from models.errors import BadTrainingData


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(tmp_path: Path, name: str, rows: list[object]) -> Path:
    return _write(tmp_path, name, "".join(json.dumps(r) + "\n" for r in rows))


def test_csv_records_keep_their_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "tx.csv",
        'id,amount,note,label\nt-1,12.5,"two\nlines",legit\n\nt-2,,FR,fraud\n',
    )
    records = list(read_records(path))
    assert records == [
        {"id": "t-1", "amount": "12.5", "note": "two\nlines", "label": "legit"},
        {"id": "t-2", "amount": "", "note": "FR", "label": "fraud"},
    ]
    assert [r.where for r in records] == ["tx.csv line 2", "tx.csv line 5"]


def test_csv_row_with_too_many_fields_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "tx.csv", "id,amount,label\nt-1,1,legit\nt-2,2,3,fraud\n")
    with pytest.raises(BadTrainingData, match=r"tx\.csv line 3: 4 fields where the header has 3"):
        list(read_records(path))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty: a header line is required"),
        ("id,,label\n", "line 1: the header"),
        ("a,a\n", "line 1"),
    ],
)
def test_csv_without_a_usable_header(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(BadTrainingData, match=fragment):
        list(read_records(_write(tmp_path, "x.csv", text)))


def test_jsonl_records_and_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.ndjson", '{"id": "a", "text": "hi"}\n\n{"id": "b", "text": "yo"\n')
    records = read_records(path)
    first = next(records)
    assert first == {"id": "a", "text": "hi"} and first.where == "x.ndjson line 1"
    with pytest.raises(BadTrainingData, match=r"x\.ndjson line 3: not valid JSON"):
        next(records)
    with pytest.raises(BadTrainingData, match=r"line 1: expected a JSON object, got list"):
        list(read_records(_jsonl(tmp_path, "y.jsonl", [[1, 2]])))


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(BadTrainingData, match=r"data\.xlsx: unsupported file type '\.xlsx'"):
        read_records(tmp_path / "data.xlsx")


def test_labelled_tabular_from_csv_parses_numbers_and_drops_empty(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "tx.csv", "id,amount,country,label\nt-1,12.5,FR,legit\nt-2,,007,fraud\n"
    )
    payloads, y = labelled_examples(read_records(path), kind="tabular", labels=["legit", "fraud"])
    assert payloads == [
        {"features": {"amount": 12.5, "country": "FR"}},
        {"features": {"country": 7.0}},  # CSV has no types: "007" looks like a number
    ]
    assert y == ["legit", "fraud"]


def test_labelled_jsonl_keeps_types_and_reads_api_shaped_lines(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path,
        "tx.jsonl",
        [
            {"id": 1, "zip": "007", "amount": 3, "Class": 1},
            {"id": 2, "features": {"zip": "75001", "amount": 4.5}, "Class": 0},
        ],
    )
    payloads, y = labelled_examples(
        read_records(path), kind="tabular", label_column="Class", labels=["0", "1"]
    )
    assert payloads == [
        {"features": {"zip": "007", "amount": 3}},
        {"features": {"zip": "75001", "amount": 4.5}},
    ]
    assert y == ["1", "0"]


def test_label_outside_the_queue_labels_names_value_line_and_allowed(tmp_path: Path) -> None:
    path = _write(tmp_path, "tx.csv", "amount,label\n1,legit\n2,Fraud\n")
    with pytest.raises(BadTrainingData) as error:
        labelled_examples(read_records(path), kind="tabular", labels=["legit", "fraud"])
    message = str(error.value)
    assert "tx.csv line 3" in message
    assert "'Fraud'" in message
    assert "['legit', 'fraud']" in message


def test_missing_label_names_the_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "tx.csv", "amount,verdict\n1,legit\n")
    with pytest.raises(BadTrainingData, match=r"tx\.csv line 2: no value in label column 'label'"):
        labelled_examples(read_records(path), kind="tabular", labels=["legit", "fraud"])


def test_labelled_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.csv", "id,text,label\nr-1,Thanks a lot,good\nr-2,  ,bad\n")
    records = list(read_records(path))
    payloads, y = labelled_examples(records[:1], kind="text", labels=["bad", "good"])
    assert (payloads, y) == ([{"text": "Thanks a lot"}], ["good"])
    with pytest.raises(
        BadTrainingData, match=r"r\.csv line 3: a text queue needs a non-empty 'text'"
    ):
        labelled_examples(records, kind="text", labels=["bad", "good"])


def test_plain_dicts_are_numbered_by_position() -> None:
    with pytest.raises(BadTrainingData, match="record 2: label 'x'"):
        labelled_examples([{"label": "a"}, {"label": "x"}], kind="tabular", labels=["a", "b"])


def test_unlabelled_items_are_api_shaped(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "in.csv",
        "id,amount,country,merchant,label\nt-1,12.5,FR,Acme,legit\nt-2,3,,Bolt,\n",
    )
    items = unlabelled_items(
        read_records(path), kind="tabular", context_columns=["merchant"], ignore_columns=["label"]
    )
    assert items == [
        {
            "id": "t-1",
            "features": {"amount": 12.5, "country": "FR"},
            "context": {"merchant": "Acme"},
        },
        {"id": "t-2", "features": {"amount": 3.0}, "context": {"merchant": "Bolt"}},
    ]


def test_unlabelled_text_items_pass_api_shaped_json_through(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path,
        "in.jsonl",
        [{"id": "r-1", "text": "hello", "context": {"customer": "where is my parcel?"}}],
    )
    assert unlabelled_items(read_records(path), kind="text") == [
        {"id": "r-1", "text": "hello", "context": {"customer": "where is my parcel?"}}
    ]


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "in.csv", "id,amount\nt-1,1\nt-2,2\nt-1,3\n")
    with pytest.raises(
        BadTrainingData, match=r"in\.csv line 4: id 't-1' already used at in\.csv line 2"
    ):
        unlabelled_items(read_records(path), kind="tabular")


def test_missing_id_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "in.csv", "key,amount\nt-1,1\n")
    with pytest.raises(BadTrainingData, match=r"in\.csv line 2: no value in id column 'id'"):
        unlabelled_items(read_records(path), kind="tabular")
    items = unlabelled_items(read_records(path), kind="tabular", id_column="key")
    assert items == [{"id": "t-1", "features": {"amount": 1.0}}]


def test_nested_value_in_a_feature_column_is_refused(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, "in.jsonl", [{"id": "a", "tags": ["x"], "label": "a"}])
    with pytest.raises(
        BadTrainingData, match=r"in\.jsonl line 1: column 'tags' must hold a number"
    ):
        labelled_examples(read_records(path), kind="tabular", labels=["a", "b"])
