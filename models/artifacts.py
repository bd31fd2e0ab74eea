"""Model artifacts: a whole fitted ``Pipeline`` as skops bytes, never pickle.

Unpickling runs whatever code the bytes name, so a model stored in the database must not be
loaded with pickle. skops only rebuilds the types it is told to trust. We trust two things:
the sha256 recorded when the artifact was written (the bytes are the ones we produced), and an
allow-list of classes from the libraries our pipelines are made of. Functions are refused even
from those libraries: a function inside a pipeline (``FunctionTransformer(func=...)``) is called
on every input, and no pipeline from ``models.pipelines`` needs one.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import zipfile

import skops.io as sio
from sklearn.pipeline import Pipeline

from models.errors import ArtifactIntegrityError

#: Modules whose classes may appear in an artifact beyond skops' own default trusted set.
ALLOWED_PREFIXES: tuple[str, ...] = ("sklearn.", "numpy.", "scipy.sparse.")
#: Builtins our pipelines need beyond skops' defaults (none today); exact names, not a prefix:
#: ``builtins.`` would let ``eval`` in.
ALLOWED_BUILTINS: frozenset[str] = frozenset()


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``, as recorded in the registry next to the artifact."""
    return hashlib.sha256(data).hexdigest()


def dump_pipeline(pipeline: Pipeline) -> bytes:
    """Serialize a fitted pipeline with skops, deflated.

    skops writes vocabularies as verbose JSON; deflating shrinks a text model about 20-fold.
    """
    return sio.dumps(pipeline, compression=zipfile.ZIP_DEFLATED)


def _is_allowed_class(name: str) -> bool:
    if name in ALLOWED_BUILTINS:
        return True
    if not name.startswith(ALLOWED_PREFIXES):
        return False
    module_name, _, attr = name.rpartition(".")
    # Resolving only names under the allowed prefixes: importing part of scikit-learn, numpy or
    # scipy is safe; the question is only whether the name is a class or a callable function.
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        return False
    return isinstance(obj, type)


def trusted_types(data: bytes) -> list[str]:
    """The types in ``data`` skops does not trust by default, if all are allowed.

    Raises ``ArtifactIntegrityError`` naming every type that is not allowed.
    """
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # skops raises zipfile/json/key errors on malformed bytes
        raise ArtifactIntegrityError(f"not a readable skops artifact: {exc}") from exc
    refused = [name for name in untrusted if not _is_allowed_class(name)]
    if refused:
        raise ArtifactIntegrityError(f"artifact holds types that are not allowed: {refused}")
    return list(untrusted)


def load_pipeline(data: bytes, *, expected_sha256: str) -> Pipeline:
    """Load a pipeline written by ``dump_pipeline``, after checking its hash and its types."""
    actual = sha256_hex(data)
    if not hmac.compare_digest(actual.encode(), expected_sha256.strip().lower().encode()):
        raise ArtifactIntegrityError(
            f"artifact sha256 {actual} does not match the recorded {expected_sha256}"
        )
    trusted = trusted_types(data)
    try:
        pipeline = sio.loads(data, trusted=trusted)
    except Exception as exc:  # anything skops cannot rebuild is not an artifact we wrote
        raise ArtifactIntegrityError(f"artifact could not be loaded: {exc}") from exc
    if not isinstance(pipeline, Pipeline):
        raise ArtifactIntegrityError(
            f"artifact holds a {type(pipeline).__name__}, not a scikit-learn Pipeline"
        )
    return pipeline
