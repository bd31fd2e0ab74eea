"""skops artifacts: round trip, and refusal of tampered or untrusted bytes."""

from __future__ import annotations

import operator

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from models.artifacts import dump_pipeline, load_pipeline, sha256_hex
from models.errors import ArtifactIntegrityError, ModelError
from models.pipelines import build_pipeline, to_model_input

# Synthetic examples, just enough to fit both kinds.
TABULAR = [
    {"features": {"amount": float(i), "country": "XX" if i % 3 == 0 else "FR"}} for i in range(30)
]
TABULAR_Y = ["fraud" if i % 3 == 0 else "legit" for i in range(30)]
TEXT = [
    {"text": t} for t in ["great help thanks", "useless answer", "thanks great", "bad useless"] * 5
]
TEXT_Y = ["good", "bad", "good", "bad"] * 5


@pytest.mark.parametrize(
    ("kind", "payloads", "y"), [("tabular", TABULAR, TABULAR_Y), ("text", TEXT, TEXT_Y)]
)
def test_round_trip_predicts_the_same(kind: str, payloads: list[dict], y: list[str]) -> None:
    x = to_model_input(kind, payloads)  # type: ignore[arg-type]
    pipeline = build_pipeline(kind).fit(x, y)  # type: ignore[arg-type]
    data = dump_pipeline(pipeline)
    loaded = load_pipeline(data, expected_sha256=sha256_hex(data))
    assert isinstance(loaded, Pipeline)
    np.testing.assert_array_equal(loaded.predict_proba(x), pipeline.predict_proba(x))
    assert list(loaded.classes_) == list(pipeline.classes_)
    assert not data.startswith(b"\x80")  # a zip file, not a pickle stream


def _fitted() -> tuple[bytes, str]:
    pipeline = build_pipeline("tabular").fit(to_model_input("tabular", TABULAR), TABULAR_Y)
    data = dump_pipeline(pipeline)
    return data, sha256_hex(data)


def test_tampered_bytes_are_refused() -> None:
    data, digest = _fitted()
    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 0xFF
    with pytest.raises(ArtifactIntegrityError, match="does not match"):
        load_pipeline(bytes(tampered), expected_sha256=digest)


def test_wrong_hash_is_refused_and_is_a_model_error() -> None:
    data, _ = _fitted()
    with pytest.raises(ModelError, match="does not match"):
        load_pipeline(data, expected_sha256=sha256_hex(b"another model"))


@pytest.mark.parametrize(
    ("func", "type_name"),
    [
        (operator.neg, "_operator.neg"),  # outside the allowed modules
        (np.load, "numpy.load"),  # an allowed module, but a function, not a class
    ],
)
def test_untrusted_types_are_refused_by_name(func: object, type_name: str) -> None:
    pipeline = Pipeline(
        [("evil", FunctionTransformer(func)), ("classify", LogisticRegression())]  # type: ignore[arg-type]
    )
    data = sio.dumps(pipeline)
    # The hash is right: only the type allow-list stands between these bytes and the function.
    with pytest.raises(ArtifactIntegrityError, match=type_name):
        load_pipeline(data, expected_sha256=sha256_hex(data))


def test_something_else_than_a_pipeline_is_refused() -> None:
    data = sio.dumps(LogisticRegression())
    with pytest.raises(ArtifactIntegrityError, match="not a scikit-learn Pipeline"):
        load_pipeline(data, expected_sha256=sha256_hex(data))


def test_garbage_with_a_matching_hash_is_refused() -> None:
    data = b"not a zip file"
    with pytest.raises(ArtifactIntegrityError, match="not a readable skops artifact"):
        load_pipeline(data, expected_sha256=sha256_hex(data))


def test_sha256_hex() -> None:
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
