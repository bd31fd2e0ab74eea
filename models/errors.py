"""Exceptions of the ML layer.

One small hierarchy so that each boundary (HTTP API, Slack listener, CLI) can translate
``ModelError`` once, into a status code, an ephemeral message or an exit code, without knowing
which part of ``models/`` failed.
"""

from __future__ import annotations


class ModelError(Exception):
    """Base class of every error raised on purpose by the ``models`` package."""


class ArtifactIntegrityError(ModelError):
    """A stored model artifact does not match its hash or holds a type we do not trust.

    Loading such bytes could run code we did not write, so the artifact is refused outright.
    """


class ModelNotTrained(ModelError):
    """A queue has no current model yet, so nothing can be scored."""

    def __init__(self, queue: str) -> None:
        super().__init__(f"queue {queue!r} has no trained model yet: run `hitl train {queue} FILE`")
        self.queue = queue


class BadTrainingData(ModelError, ValueError):
    """Labelled or unlabelled input that cannot be used; the message names where and why."""


class InvalidPayload(ModelError, ValueError):
    """An item payload that does not have the shape its queue kind needs."""
