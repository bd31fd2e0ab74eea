"""The weekly digest as plain lines for a terminal (``hitl digest --dry-run``)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.digest.figures import DigestFigures
from bot.digest.sections import digest_sections, headline, previous_text, subtitle


def digest_plain_text(figures: DigestFigures, names: Mapping[str, str] | None = None) -> str:
    """The same digest as plain lines for a terminal (``hitl digest --dry-run``)."""
    lines = [headline(figures), subtitle(figures)]
    for section in digest_sections(figures, names):
        lines.append("")
        if section.title:
            lines.append(section.title)
        if section.note:
            lines.append(section.note)
        width = max((len(row.label) for row in section.rows), default=0)
        for row in section.rows:
            label = f"{row.label}:".ljust(width + 1)
            if section.layout == "stacked":
                lines.append(f"  {label} {row.value}")
                if row.previous is not None:
                    lines.append(f"  {'':{width + 1}} prev. {row.previous}")
            else:
                lines.append(f"  {label} {row.value}{previous_text(row)}")
        if section.more:
            lines.append(f"  and {section.more:,} more")
    return "\n".join(lines) + "\n"
