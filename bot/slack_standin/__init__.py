"""A local stand-in for the Slack Web API, used by tests, ``hitl demo`` and dev bots.

Start one with ``SlackStandin().start()`` (or as a context manager) and point a
``WebClient(base_url=standin.api_url)`` at it; see ``server`` for what it answers and why.
"""

from bot.slack_standin.server import RecordedCall, SlackError, SlackStandin

__all__ = ["RecordedCall", "SlackError", "SlackStandin"]
