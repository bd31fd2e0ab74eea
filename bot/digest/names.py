"""Reviewers' names for the digest: a weekly digest names people, it does not ping them.

``users.info`` (scope ``users:read``, already in the manifest) gives each person's display
name; answers are remembered for an hour, so a digest of many queues asks once per person.
Whoever Slack cannot name (a deleted user, Slack down) shows as their id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

logger = logging.getLogger(__name__)

CACHE_SECONDS = 3600.0
_cache: dict[tuple[str, str], tuple[float, str]] = {}
_lock = threading.Lock()


def name_of(user: dict[str, object]) -> str | None:
    """The name Slack shows for a ``users.info`` user: display name, else real name, else
    the handle."""
    profile = user.get("profile")
    candidates: list[object] = []
    if isinstance(profile, dict):
        candidates += [profile.get("display_name"), profile.get("real_name")]
    candidates += [user.get("real_name"), user.get("name")]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def display_names(
    client: WebClient, user_ids: Iterable[str], *, now: float | None = None
) -> dict[str, str]:
    """user id → name, for every id given (the id itself when Slack cannot name it)."""
    now = time.monotonic() if now is None else now
    names: dict[str, str] = {}
    for user_id in dict.fromkeys(user_ids):
        key = (client.base_url, user_id)
        with _lock:
            cached = _cache.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            names[user_id] = cached[1]
            continue
        try:
            user = client.users_info(user=user_id)["user"]
        except SlackClientError as exc:
            logger.warning("no name for %s (%s): the digest shows the id", user_id, exc)
            names[user_id] = user_id
            continue
        names[user_id] = name_of(user) or user_id
        with _lock:
            _cache[key] = (now, names[user_id])
    return names
