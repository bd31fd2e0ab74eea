"""Loading and saving pipelines through the registry tables.

Which version is current is read from the database at every call, so every process follows a
promotion or a rollback at once. The deserialized pipeline is cached by sha256: an artifact
never changes, so the cache can never serve a stale model.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import sklearn
from sklearn.pipeline import Pipeline
from sqlalchemy.orm import Session

from models.artifacts import dump_pipeline, load_pipeline, sha256_hex
from models.errors import ArtifactIntegrityError, ModelNotTrained
from storage.registry import add_version, current_version
from storage.tables import ModelVersion

_CACHE_SIZE = 8
_cache: OrderedDict[str, Pipeline] = OrderedDict()
_cache_lock = threading.Lock()


def pipeline_of(version: ModelVersion) -> Pipeline:
    """The pipeline stored in ``version``, checked against its sha256 on first load."""
    with _cache_lock:
        if version.sha256 in _cache:
            _cache.move_to_end(version.sha256)
            return _cache[version.sha256]
    try:
        pipeline = load_pipeline(version.artifact, expected_sha256=version.sha256)
    except ArtifactIntegrityError as exc:  # say which model: the caller may serve many
        raise ArtifactIntegrityError(
            f"model {version.version} of queue {version.queue!r} cannot be loaded: {exc}"
        ) from exc
    with _cache_lock:
        _cache[version.sha256] = pipeline
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return pipeline


def load_current(*, session: Session, queue: str) -> tuple[ModelVersion, Pipeline]:
    version = current_version(session=session, queue=queue)
    if version is None:
        raise ModelNotTrained(queue)
    return version, pipeline_of(version)


def save_pipeline(
    *,
    session: Session,
    queue: str,
    kind: str,
    pipeline: Pipeline,
    labels: list[str],
    n_train: int,
    metrics: dict[str, Any],
    info: dict[str, Any],
    make_current: bool,
) -> ModelVersion:
    artifact = dump_pipeline(pipeline)
    return add_version(
        session=session,
        queue=queue,
        kind=kind,
        artifact=artifact,
        sha256=sha256_hex(artifact),
        labels=labels,
        n_train=n_train,
        metrics=metrics,
        info={"sklearn_version": sklearn.__version__, **info},
        make_current=make_current,
    )
