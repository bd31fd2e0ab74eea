"""The direction of imports, so the tree keeps telling the story of the data flow.

Layers, lowest first. A module may import from its own layer's groups and from lower layers,
never from a higher one; where a layer's groups are peers (``review`` and ``digest``, ``api``
and ``slack``) they do not import each other either, so each stays readable on its own.
Function-level and ``TYPE_CHECKING`` imports count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("storage", "models", "bot")


@dataclass(frozen=True)
class Layer:
    groups: tuple[str, ...]
    peers_apart: bool  # groups of this layer may not import each other


LAYERS = (
    Layer(("storage",), False),
    Layer(("models",), False),
    # entry-free helpers every part uses, and the assembly of settings, config and database
    Layer(
        (
            "bot.errors",
            "bot.settings",
            "bot.config",
            "bot.context",
            "bot.mrkdwn",
            "bot.figures_text",
            "bot.masking",
            "bot.runtime",
            "bot.progress",
            "bot.live_config",
            "bot.instruments",
        ),
        False,
    ),
    Layer(("bot.review", "bot.digest"), True),
    Layer(("bot.schedule",), False),
    Layer(("bot.api", "bot.slack"), True),
    Layer(("bot.demo", "bot.server", "bot.cli"), False),
)
#: The Slack stand-in imitates an outside system: it imports nothing of the bot. Its
#: ``__main__`` is an entry point (``python -m bot.slack_standin`` runs ``hitl standin``).
STANDALONE = "bot.slack_standin"


def group_of(module: str) -> str | None:
    """The group a dotted module name belongs to, or None if it is not the project's."""
    for layer in LAYERS:
        for group in layer.groups:
            if module == group or module.startswith(group + "."):
                return group
    if module == STANDALONE or module.startswith(STANDALONE + "."):
        return STANDALONE
    if module == "bot":
        return "bot"
    return None


def layer_of(group: str) -> int:
    for index, layer in enumerate(LAYERS):
        if group in layer.groups:
            return index
    raise KeyError(group)


def imported_modules(source: str) -> set[str]:
    """Every absolute module an import statement names, including ``from x import name``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def violations(root: Path) -> list[str]:
    """``importer → imported`` for every import that goes against the layers."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            module = module.removesuffix(".__init__")
            own = group_of(module)
            if own is None or own == "bot":
                continue
            for target in sorted(imported_modules(path.read_text())):
                other = group_of(target)
                if other is None or other == own or other == "bot":
                    continue
                if not allowed(module, own, other):
                    found.append(f"{module} → {target}")
    return found


def allowed(module: str, own: str, other: str) -> bool:
    if own == STANDALONE:
        return module.endswith("__main__")
    if other == STANDALONE:
        return layer_of(own) == len(LAYERS) - 1
    mine, theirs = layer_of(own), layer_of(other)
    if theirs != mine:
        return theirs < mine
    return not LAYERS[mine].peers_apart


def test_every_import_follows_the_layers() -> None:
    assert violations(ROOT) == []


def test_every_module_belongs_to_a_layer() -> None:
    """A new top-level module of ``bot/`` must be placed in a layer before it can be checked."""
    unplaced = [
        path.name
        for path in sorted((ROOT / "bot").iterdir())
        if (path.suffix == ".py" or (path / "__init__.py").exists())
        and path.name != "__init__.py"
        and group_of(f"bot.{path.stem}") in (None, "bot")
    ]
    assert unplaced == []


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        ("bot/review/ingest.py", "from bot.cli import main\n", "bot.review.ingest → bot.cli"),
        ("bot/digest/send.py", "import bot.server\n", "bot.digest.send → bot.server"),
        ("bot/api/routes.py", "from bot.slack import home\n", "bot.api.routes → bot.slack"),
        ("bot/slack/app.py", "from bot.server import serve\n", "bot.slack.app → bot.server"),
        (
            "bot/review/cards.py",
            "def f():\n    from bot.digest.stats import queue_stats\n",
            "bot.review.cards → bot.digest.stats",
        ),
        ("models/gate.py", "from bot.config import QueueConfig\n", "models.gate → bot.config"),
        ("storage/items.py", "import models.routing\n", "storage.items → models.routing"),
        ("storage/items.py", "from bot import mrkdwn\n", "storage.items → bot.mrkdwn"),
        (
            "bot/slack_standin/state.py",
            "from bot.review import blocks\n",
            "bot.slack_standin.state → bot.review",
        ),
    ],
)
def test_a_wrong_import_is_caught(
    tmp_path: Path, importer: str, source: str, expected: str
) -> None:
    """The checker itself, on a copy of the tree with one deliberately wrong import added."""
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            copy = tmp_path / path.relative_to(ROOT)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(path.read_text())
    target = tmp_path / importer
    target.write_text(target.read_text() + "\n" + source)
    assert expected in violations(tmp_path)
