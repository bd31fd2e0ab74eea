"""The `hitl` command: one click group; thin commands whose docstrings are the help.

Commands are grouped by what they serve: the processes of a deploy (`processes`), the model of a
queue (`model_commands`), and items and figures (`data_commands`). Logic lives elsewhere.
"""

from __future__ import annotations

from bot.cli import data_commands, model_commands, processes
from bot.cli.group import load_settings, main

for module in (processes, model_commands, data_commands):
    for command in module.COMMANDS:
        main.add_command(command)

__all__ = ["load_settings", "main"]
