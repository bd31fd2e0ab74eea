"""The queue config of a running process, kept in step with its file.

`hitl serve` and `hitl clock` watch ``HITL_CONFIG``: every second they compare the file's
content with the last one they read (and at once on SIGHUP). A new content that is valid
replaces ``ctx.config`` in one assignment, so a request or a delivery round sees the old config
or the new one, never a mix; a new queue is scored, posted and scheduled without a restart.
A content that is not valid is refused with one log line naming the field, and the running
config stays; the same bad content is not reported twice.

Polling the content rather than waiting for file-system events: it needs no extra library,
works on every file system (a ConfigMap volume, a network mount), and sees an editor's
write-and-rename as well as an in-place write. One read a second costs nothing.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from bot.config import HitlConfig, load_config
from bot.context import AppContext
from bot.errors import ConfigError

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # missing for a moment (an editor renaming over it): read it next time


def describe_change(old: HitlConfig, new: HitlConfig) -> str:
    """What a reload changes, by queue: ``added fraud2; changed fraud``."""
    added = sorted(set(new.queues) - set(old.queues))
    removed = sorted(set(old.queues) - set(new.queues))
    changed = sorted(q for q in set(old.queues) & set(new.queues) if old.queues[q] != new.queues[q])
    parts = [
        f"{what} {', '.join(names)}"
        for what, names in (("added", added), ("removed", removed), ("changed", changed))
        if names
    ]
    return "; ".join(parts) or "no queue changed"


class ConfigWatcher:
    """Reloads ``path`` when its content changes and hands each valid config to ``apply``.

    ``start()`` runs it in a daemon thread; ``check()`` does one comparison (tests, SIGHUP).
    """

    def __init__(
        self,
        path: Path,
        *,
        current: HitlConfig,
        apply: Callable[[HitlConfig], None],
        poll: float = POLL_SECONDS,
    ) -> None:
        self.path = path
        self.current = current
        self.apply = apply
        self.poll = poll
        # None: the first look reads the file once and compares configs, so a change made
        # between the process reading its config and the watcher starting is not missed.
        self._seen: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def check(self) -> bool:
        """Reload if the content changed; True when a new config was applied."""
        with self._lock:
            digest = _digest(self.path)
            if digest is None or digest == self._seen:
                return False
            self._seen = digest
            try:
                new = load_config(self.path)
            except ConfigError as exc:
                logger.error("config not reloaded, the running one stays: %s", exc)
                return False
            if new == self.current:
                return False
            change = describe_change(self.current, new)
            self.apply(new)
            self.current = new
            logger.info("config reloaded from %s: %s", self.path, change)
            return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:  # keep watching: one failed look must not end live config
                logger.exception("config watch failed")
            self._wake.wait(self.poll)
            self._wake.clear()

    def start(self) -> ConfigWatcher:
        self._thread = threading.Thread(target=self._run, name="config-watch", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look now rather than at the next poll (what SIGHUP does)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def reload_on_sighup(self) -> None:
        """SIGHUP looks at the file at once; only from the main thread (Python's rule)."""

        def on_hup(signum: int, frame: FrameType | None) -> None:
            self.wake()

        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, on_hup)


def watch_config(
    ctx: AppContext, *, then: Callable[[HitlConfig], None] | None = None
) -> ConfigWatcher:
    """A watcher of the process's config file that swaps ``ctx.config`` (then calls ``then``,
    e.g. the clock re-declaring its jobs); not started."""

    def apply(config: HitlConfig) -> None:
        ctx.config = config
        if then is not None:
            then(config)

    return ConfigWatcher(ctx.settings.hitl_config, current=ctx.config, apply=apply)
