"""Whether each queue's current model can be loaded, for `/healthz` and ingestion.

A model whose stored bytes no longer match their sha256 (or hold types we do not trust) is
refused on every load, rightly. Then ingestion answers 503 naming the queue and why, and
`/healthz` says the same; the log gets one line when the problem appears (and one when it is
gone), not a traceback per request.
"""

from __future__ import annotations

import logging
import threading

from bot.context import AppContext
from models.errors import ArtifactIntegrityError
from models.registry import pipeline_of
from storage.registry import current_version

logger = logging.getLogger(__name__)


class ModelProblems:
    """The latest load problem of each queue, as last seen by a request or a health check."""

    def __init__(self) -> None:
        self._problems: dict[str, str] = {}
        self._lock = threading.Lock()

    def note(self, queue: str, problem: str | None) -> None:
        with self._lock:
            before = self._problems.get(queue)
            if problem is None:
                self._problems.pop(queue, None)
            else:
                self._problems[queue] = problem
        if problem != before:
            if problem is not None:
                logger.error("queue %s cannot score: %s", queue, problem)
            else:
                logger.info("queue %s: its current model loads again", queue)

    def check(self, ctx: AppContext) -> list[str]:
        """Load every queue's current model (cached once loaded); the problems, one per queue."""
        found = []
        for name in ctx.config.queues:
            problem = None
            with ctx.sessions.begin() as session:
                version = current_version(session=session, queue=name)
                if version is not None:
                    try:
                        pipeline_of(version)
                    except ArtifactIntegrityError as exc:
                        problem = str(exc)
            self.note(name, problem)
            if problem is not None:
                found.append(f"queue {name}: {problem}")
        return found
