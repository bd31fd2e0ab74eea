"""Slack's documented size limits for messages, Block Kit and views, as pure functions.

The stand-in enforces these so that a message the bot builds is refused here, in a test, in
the same words Slack would use in production (``invalid_blocks`` with
``"[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"``), instead of
surprising a reviewer at run time. Problems are returned as Slack's messages without the
``[ERROR] `` prefix; the server adds the prefix where Slack does.

Lengths are counted in Python characters (code points); Slack's own counting of astral
characters may differ by a few characters at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000

_SECTION_TEXT = 3000
_SECTION_FIELDS = 10
_FIELD_TEXT = 2000
_HEADER_TEXT = 150
_BLOCK_ID = 255
_ACTION_ID = 255
_ACTIONS_ELEMENTS = 25
_CONTEXT_ELEMENTS = 10
_BUTTON_TEXT = 75
_BUTTON_VALUE = 2000
_URL = 3000
_OPTIONS = 100
_OPTION_TEXT = 75
_OPTION_VALUE = 150
_INPUT_LABEL = 2000
_VIEW_TITLE = 24
_PRIVATE_METADATA = 3000
_CALLBACK_ID = 255


@dataclass(frozen=True)
class LimitError:
    """A refusal the way Slack words it: an error code and zero or more detail messages."""

    error: str
    messages: tuple[str, ...] = ()


def _too_long(value: object, limit: int, pointer: str) -> list[str]:
    if isinstance(value, str) and len(value) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{pointer}]"]
    return []


def _too_many(value: object, limit: int, pointer: str) -> list[str]:
    if isinstance(value, list) and len(value) > limit:
        return [f"must be less than {limit + 1} items [json-pointer:{pointer}]"]
    return []


def _text_object(obj: object, limit: int, pointer: str) -> list[str]:
    """A composition text object: ``{"type": "plain_text"|"mrkdwn", "text": ...}``."""
    if not isinstance(obj, dict):
        return [f"must be an object [json-pointer:{pointer}]"]
    text = obj.get("text")
    if not isinstance(text, str):
        return [f"missing required field: text [json-pointer:{pointer}]"]
    if not text:
        return [f"must be more than 0 characters [json-pointer:{pointer}/text]"]
    return _too_long(text, limit, f"{pointer}/text")


def _option(option: object, pointer: str) -> list[str]:
    if not isinstance(option, dict):
        return [f"must be an object [json-pointer:{pointer}]"]
    return _text_object(option.get("text"), _OPTION_TEXT, f"{pointer}/text") + _too_long(
        option.get("value"), _OPTION_VALUE, f"{pointer}/value"
    )


def element_problems(element: object, pointer: str) -> list[str]:
    """Limits on an interactive element (button, select, ...) inside a block."""
    if not isinstance(element, dict):
        return [f"must be an object [json-pointer:{pointer}]"]
    problems = _too_long(element.get("action_id"), _ACTION_ID, f"{pointer}/action_id")
    kind = element.get("type")
    if kind == "button":
        problems += _text_object(element.get("text"), _BUTTON_TEXT, f"{pointer}/text")
        problems += _too_long(element.get("value"), _BUTTON_VALUE, f"{pointer}/value")
        problems += _too_long(element.get("url"), _URL, f"{pointer}/url")
    options = element.get("options")
    if isinstance(options, list):
        problems += _too_many(options, _OPTIONS, f"{pointer}/options")
        for i, option in enumerate(options):
            problems += _option(option, f"{pointer}/options/{i}")
    return problems


def _section(block: dict[str, Any], pointer: str) -> list[str]:
    problems: list[str] = []
    if "text" in block:
        problems += _text_object(block["text"], _SECTION_TEXT, f"{pointer}/text")
    fields = block.get("fields")
    if isinstance(fields, list):
        problems += _too_many(fields, _SECTION_FIELDS, f"{pointer}/fields")
        for i, item in enumerate(fields):
            problems += _text_object(item, _FIELD_TEXT, f"{pointer}/fields/{i}")
    if "accessory" in block:
        problems += element_problems(block["accessory"], f"{pointer}/accessory")
    return problems


def _elements(block: dict[str, Any], limit: int, pointer: str, *, interactive: bool) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list):
        return [f"missing required field: elements [json-pointer:{pointer}]"]
    problems = _too_many(elements, limit, f"{pointer}/elements")
    if interactive:
        for i, element in enumerate(elements):
            problems += element_problems(element, f"{pointer}/elements/{i}")
    return problems


def block_problems(block: object, pointer: str) -> list[str]:
    """Limits on one block; unknown block types are only checked for ``block_id``."""
    if not isinstance(block, dict):
        return [f"must be an object [json-pointer:{pointer}]"]
    if not isinstance(block.get("type"), str):
        return [f"missing required field: type [json-pointer:{pointer}]"]
    problems = _too_long(block.get("block_id"), _BLOCK_ID, f"{pointer}/block_id")
    kind = block["type"]
    if kind == "section":
        problems += _section(block, pointer)
    elif kind == "header":
        problems += _text_object(block.get("text"), _HEADER_TEXT, f"{pointer}/text")
    elif kind == "actions":
        problems += _elements(block, _ACTIONS_ELEMENTS, pointer, interactive=True)
    elif kind == "context":
        problems += _elements(block, _CONTEXT_ELEMENTS, pointer, interactive=False)
    elif kind == "input":
        problems += _text_object(block.get("label"), _INPUT_LABEL, f"{pointer}/label")
        problems += element_problems(block.get("element"), f"{pointer}/element")
    return problems


def blocks_problems(blocks: list[Any], *, max_blocks: int, pointer: str = "/blocks") -> list[str]:
    """Every limit broken by a list of blocks, in document order."""
    problems = _too_many(blocks, max_blocks, pointer)
    for i, block in enumerate(blocks):
        problems += block_problems(block, f"{pointer}/{i}")
    return problems


def _with_prefix(problems: list[str]) -> tuple[str, ...]:
    return tuple(f"[ERROR] {p}" for p in problems)


def message_error(
    *, text: object, blocks: object, attachments: object, metadata: object
) -> LimitError | None:
    """Why Slack would refuse a chat.postMessage/update/postEphemeral payload, or None.

    ``blocks`` and ``metadata`` arrive already JSON-decoded; a value still a ``str`` is one
    that did not decode. ``None`` means "not given".
    """
    if blocks is not None:
        if not isinstance(blocks, list):
            return LimitError("invalid_blocks_format")
        problems = blocks_problems(blocks, max_blocks=MAX_MESSAGE_BLOCKS)
        if problems:
            return LimitError("invalid_blocks", _with_prefix(problems))
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        return LimitError("msg_too_long")
    if not text and not blocks and not attachments:
        return LimitError("no_text")
    if metadata is not None and not _valid_metadata(metadata):
        return LimitError("invalid_metadata_format")
    return None


def _valid_metadata(metadata: object) -> bool:
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and bool(metadata["event_type"])
        and isinstance(metadata.get("event_payload"), dict)
    )


def view_error(view: object, *, expected_type: str | None) -> LimitError | None:
    """Why Slack would refuse a view (views.publish/open/update), or None.

    Slack reports view problems as ``invalid_arguments`` with json-pointers under ``/view``.
    """
    if not isinstance(view, dict):
        return LimitError("invalid_arguments", ("[ERROR] must be an object [json-pointer:/view]",))
    problems: list[str] = []
    kind = view.get("type")
    if not isinstance(kind, str):
        problems.append("missing required field: type [json-pointer:/view]")
    elif expected_type is not None and kind != expected_type:
        problems.append(f"must be {expected_type} [json-pointer:/view/type]")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        problems.append("missing required field: blocks [json-pointer:/view]")
    else:
        problems += blocks_problems(blocks, max_blocks=MAX_VIEW_BLOCKS, pointer="/view/blocks")
    if kind == "modal":
        problems += _text_object(view.get("title"), _VIEW_TITLE, "/view/title")
        for key in ("submit", "close"):
            if key in view:
                problems += _text_object(view[key], _VIEW_TITLE, f"/view/{key}")
    problems += _too_long(view.get("private_metadata"), _PRIVATE_METADATA, "/view/private_metadata")
    problems += _too_long(view.get("callback_id"), _CALLBACK_ID, "/view/callback_id")
    if problems:
        return LimitError("invalid_arguments", _with_prefix(problems))
    return None
