"""Who may answer (or retrain) a queue: listed users, or members of listed user groups."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from slack_sdk import WebClient

from bot.config import QueueConfig

GROUP_TTL_SECONDS = 60.0


class ReviewerDirectory:
    """Resolves user groups with ``usergroups.users.list``, remembered for a minute so a burst
    of clicks costs one Slack call, and a change of membership is seen within a minute."""

    def __init__(self, client: WebClient, *, ttl: float = GROUP_TTL_SECONDS) -> None:
        self._client = client
        self._ttl = ttl
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, group_id: str) -> frozenset[str]:
        with self._lock:
            cached = self._groups.get(group_id)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        response = self._client.usergroups_users_list(usergroup=group_id)
        users = frozenset(response.get("users") or [])
        with self._lock:
            self._groups[group_id] = (time.monotonic(), users)
        return users

    def is_one_of(self, principals: Sequence[str], user_id: str) -> bool:
        """Whether the user is listed, directly or through a listed user group (``S…``).

        Groups are asked about only when the user is not listed directly, so the common case
        costs no Slack call. An empty list holds nobody.
        """
        return user_id in principals or any(
            user_id in self.members(p) for p in principals if p.startswith("S")
        )

    def may_answer(self, queue: QueueConfig, user_id: str) -> bool:
        """A queue without reviewers may be answered by anyone in its channel."""
        return not queue.reviewers or self.is_one_of(queue.reviewers, user_id)
