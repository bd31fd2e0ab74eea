"""``python -m bot.slack_standin``: the same as ``hitl standin`` (kept for old instructions)."""

from bot.cli import main

main(["standin", *__import__("sys").argv[1:]], prog_name="python -m bot.slack_standin")
