"""Block Kit as a reviewer reads it: plain lines, in block order (for assertions and notes)."""

from __future__ import annotations

import re
from typing import Any

_DATE = re.compile(r"<!date\^\d+\^[^|]*\|([^>]*)>")


def _mrkdwn(text: str) -> str:
    text = _DATE.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _rich(node: Any) -> str:
    if isinstance(node, list):
        return "".join(_rich(child) for child in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return _mrkdwn(node["text"])
    if kind == "date":
        return _mrkdwn(node["fallback"])
    inner = _rich(node.get("elements", []))
    if kind == "rich_text_list":
        return "".join(f"  • {_rich(item).rstrip()}\n" for item in node["elements"])
    if kind == "rich_text_quote":
        return "".join(f"  > {line}\n" for line in inner.splitlines())
    if kind == "rich_text_section":
        return inner + "\n"
    return inner


def as_read(blocks: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            lines += [_mrkdwn(block["text"]["text"]), ""]
        elif kind == "section":
            if "text" in block:
                lines.append(_mrkdwn(block["text"]["text"]).replace("*", ""))
            for field in block.get("fields", []):
                name, _, value = _mrkdwn(field["text"]).partition("\n")
                lines.append(f"  {name.strip('*')}: {value}")
        elif kind == "rich_text":
            lines.append(_rich(block["elements"]).rstrip("\n"))
        elif kind == "context":
            lines.append(" ".join(_mrkdwn(e.get("text", "")) for e in block["elements"]))
        elif kind == "actions":
            buttons = []
            for element in block["elements"]:
                label = element.get("text", element.get("placeholder", {})).get("text", "")
                url = f" → {element['url']}" if "url" in element else ""
                buttons.append(f"[{label}{url}]")
            lines.append("  ".join(buttons))
        lines.append("")
    return "\n".join(lines).strip() + "\n"
