"""The Slack app manifest asks for exactly the bot scopes the code's Web API calls need.

The calls are read from the code: every call of a ``slack_sdk.WebClient`` method
(``client.chat_postMessage(...)``, whatever the receiver is named) in ``bot/`` outside the
stand-in. Each Web API method maps to the scopes Slack documents for it; a call of a method
missing from the table fails the test until someone looks its scopes up. A scope the manifest
asks for that no call needs fails it too: a workspace admin reads that list before installing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from slack_sdk import WebClient

ROOT = Path(__file__).resolve().parents[1]
STANDIN = ROOT / "bot" / "slack_standin"

#: Bot scopes of each Web API method the bot calls (api.slack.com/methods/<method>), for the
#: conversations it uses: public and private queue channels, direct messages for digests.
SCOPES_OF_METHOD: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.delete": frozenset({"chat:write"}),
    "chat.getPermalink": frozenset(),
    "views.publish": frozenset(),
    "views.open": frozenset(),
    "views.update": frozenset(),
    "conversations.history": frozenset({"channels:history", "groups:history"}),
    "conversations.replies": frozenset({"channels:history", "groups:history"}),
    "conversations.members": frozenset({"channels:read", "groups:read"}),
    "conversations.info": frozenset({"channels:read", "groups:read"}),
    "conversations.open": frozenset({"im:write"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    "users.info": frozenset({"users:read"}),
    # files_upload_v2: files.getUploadURLExternal, the upload, files.completeUploadExternal
    "files.upload.v2": frozenset({"files:write"}),
}
#: Features of the manifest that need a scope whatever the code calls.
SCOPES_OF_FEATURE = {"slash_commands": frozenset({"commands"})}

WEB_CLIENT_METHODS = {
    name for name in dir(WebClient) if not name.startswith("_") and "_" in name.strip("_")
}


def web_api_method(client_method: str) -> str:
    """``chat_postMessage`` → ``chat.postMessage``; ``files_upload_v2`` stays one method."""
    return (
        "files.upload.v2" if client_method == "files_upload_v2" else client_method.replace("_", ".")
    )


def called_methods(root: Path) -> dict[str, list[str]]:
    """Web API method → where the code calls it (``bot/…/module.py:line``)."""
    found: dict[str, list[str]] = {}
    for path in sorted((root / "bot").rglob("*.py")):
        if STANDIN in path.parents or path.parent == STANDIN:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in WEB_CLIENT_METHODS
            ):
                where = f"{path.relative_to(root)}:{node.lineno}"
                found.setdefault(web_api_method(node.func.attr), []).append(where)
    return found


def manifest(root: Path = ROOT) -> dict:
    return yaml.safe_load((root / "manifest.yml").read_text())


def needed_scopes(root: Path = ROOT) -> set[str]:
    calls = called_methods(root)
    unknown = sorted(set(calls) - set(SCOPES_OF_METHOD))
    assert not unknown, f"look up the scopes of {unknown} and add them to SCOPES_OF_METHOD"
    needed = set().union(*(SCOPES_OF_METHOD[method] for method in calls))
    for feature, scopes in SCOPES_OF_FEATURE.items():
        if manifest(root)["features"].get(feature):
            needed |= scopes
    return needed


def test_the_manifest_asks_for_exactly_the_scopes_the_code_needs() -> None:
    asked = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert sorted(asked) == sorted(needed_scopes())


def test_the_calls_found_include_those_the_bot_is_known_to_make() -> None:
    """The scan itself: it finds calls on ``ctx.client``, ``self._client`` and a local client."""
    calls = called_methods(ROOT)
    for method in ("chat.postMessage", "usergroups.users.list", "files.upload.v2", "auth.test"):
        assert method in calls, method


@pytest.mark.parametrize(
    ("source", "method", "scope"),
    [
        ("def f(client):\n    client.users_info(user='U1')\n", "users.info", "users:read"),
        (
            "def f(ctx):\n    ctx.client.conversations_replies(channel='C1', ts='1')\n",
            "conversations.replies",
            "channels:history",
        ),
    ],
)
def test_a_new_call_is_seen_and_its_scope_required(
    tmp_path: Path, source: str, method: str, scope: str
) -> None:
    for path in [*(ROOT / "bot").rglob("*.py"), ROOT / "manifest.yml"]:
        copy = tmp_path / path.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(path.read_text())
    (tmp_path / "bot" / "extra_call.py").write_text(source)
    assert method in called_methods(tmp_path)
    assert scope in needed_scopes(tmp_path)


def test_every_url_of_the_manifest_is_the_slack_endpoint_of_one_host() -> None:
    m = manifest()
    urls = [
        m["settings"]["event_subscriptions"]["request_url"],
        m["settings"]["interactivity"]["request_url"],
        *(command["url"] for command in m["features"]["slash_commands"]),
    ]
    assert {url.rsplit("/slack/events", 1)[0] for url in urls} == {"https://hitl.example.com"}
    assert all(url.endswith("/slack/events") for url in urls)
