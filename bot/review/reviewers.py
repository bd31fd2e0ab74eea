"""Who may answer (or retrain) a queue: listed users, members of listed user groups, and for a
queue without reviewers, the members of its channel."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import QueueConfig

logger = logging.getLogger(__name__)

GROUP_TTL_SECONDS = 60.0
MEMBERS_PAGE = 200  # conversations.members page size: Slack recommends no more than 200


class MembershipUnknown(Exception):
    """Slack could not say who is in a channel (missing scope, channel gone, Slack down)."""


class ReviewerDirectory:
    """Resolves user groups (``usergroups.users.list``) and channel members
    (``conversations.members``), each remembered for a minute: a burst of clicks costs one
    Slack call, and a change of membership is seen within a minute.

    ``clock`` is the monotonic clock the cache ages by; tests pass their own.
    """

    def __init__(
        self,
        client: WebClient,
        *,
        ttl: float = GROUP_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[Hashable, tuple[float, frozenset[str]]] = {}
        self._loading: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def _cached(self, key: Hashable, load: Callable[[], frozenset[str]]) -> frozenset[str]:
        """``load()``'s answer, reused for ``ttl`` seconds. Concurrent callers of one key wait
        for the first one's call instead of each making their own; a failure is not kept."""
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                cached = self._cache.get(key)
            if cached is not None and self._clock() - cached[0] < self._ttl:
                return cached[1]
            value = load()
            with self._lock:
                self._cache[key] = (self._clock(), value)
            return value

    def members(self, group_id: str) -> frozenset[str]:
        """The users of a user group (``S…``)."""

        def load() -> frozenset[str]:
            response = self._client.usergroups_users_list(usergroup=group_id)
            return frozenset(response.get("users") or [])

        return self._cached(("group", group_id), load)

    def channel_members(self, channel: str) -> frozenset[str]:
        """Every member of a channel, all pages of ``conversations.members`` (which needs the
        ``channels:read`` scope for public channels, ``groups:read`` for private ones).

        Raises ``MembershipUnknown`` when Slack does not answer with the list.
        """
        return self._cached(("channel", channel), lambda: self._fetch_channel(channel))

    def _fetch_channel(self, channel: str) -> frozenset[str]:
        members: set[str] = set()
        cursors: set[str] = set()
        cursor: str | None = None
        while True:
            try:
                response = self._client.conversations_members(
                    channel=channel, limit=MEMBERS_PAGE, cursor=cursor
                )
            except SlackApiError as exc:
                data = exc.response.data if isinstance(exc.response.data, dict) else {}
                needed = f" (needs {data['needed']})" if data.get("needed") else ""
                error = data.get("error") or f"HTTP {exc.response.status_code}"
                raise MembershipUnknown(
                    f"conversations.members {channel}: {error}{needed}"
                ) from exc
            except (SlackClientError, OSError) as exc:
                raise MembershipUnknown(f"conversations.members {channel}: {exc!r}") from exc
            members.update(response.get("members") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return frozenset(members)
            if cursor in cursors:  # Slack bug or not: never page in a circle
                raise MembershipUnknown(f"conversations.members {channel}: cursor repeated")
            cursors.add(cursor)

    def in_channel(self, channel: str, user_id: str) -> bool:
        """Whether the user is a member of the channel; False, with a warning, when Slack cannot
        say: an access check that cannot be made refuses rather than lets anyone in."""
        try:
            return user_id in self.channel_members(channel)
        except MembershipUnknown as problem:
            logger.warning("refusing %s, membership unknown: %s", user_id, problem)
            return False

    def is_one_of(self, principals: Sequence[str], user_id: str) -> bool:
        """Whether the user is listed, directly or through a listed user group (``S…``).

        Groups are asked about only when the user is not listed directly, so the common case
        costs no Slack call. An empty list holds nobody.
        """
        return user_id in principals or any(
            self._in_group(p, user_id) for p in principals if p.startswith("S")
        )

    def _in_group(self, group_id: str, user_id: str) -> bool:
        """Like ``in_channel``: a group Slack cannot list (missing ``usergroups:read``, a
        deleted group, Slack down) refuses, with a warning, rather than failing the click."""
        try:
            return user_id in self.members(group_id)
        except (SlackClientError, OSError) as problem:
            logger.warning("refusing %s, members of %s unknown: %r", user_id, group_id, problem)
            return False

    def may_answer(
        self, queue: QueueConfig, user_id: str, *, seen_in_channel: bool = False
    ) -> bool:
        """With ``reviewers`` listed, only they (directly or through a user group) may answer.

        Without, anyone in the queue's channel may. ``seen_in_channel`` says the click came from
        the message in the queue's own channel: Slack shows it only to people who can read the
        channel, so that is proof enough and the hot path costs no Slack call. Elsewhere (the
        ephemeral card of ``/hitl next``, App Home) membership is asked of Slack.
        """
        if queue.reviewers:
            return self.is_one_of(queue.reviewers, user_id)
        return seen_in_channel or self.in_channel(queue.channel, user_id)
