"""``python -m bot.slack_standin``: run the Slack stand-in for a dev bot to talk to.

Prints the api_url on the first line of stdout (the value for ``SLACK_API_URL``), then logs
each call until interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading

from bot.slack_standin.server import SlackStandin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.slack_standin",
        description="Serve a local stand-in for the Slack Web API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3999, help="0 picks a free port")
    parser.add_argument("--token", default="xoxb-standin", help="the bot token it accepts")
    parser.add_argument(
        "--user", action="append", default=[], metavar="ID", help="a user users.info knows"
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(message)s")
    standin = SlackStandin(host=args.host, port=args.port, bot_token=args.token)
    for user_id in args.user:
        standin.add_user(user_id)
    standin.start()
    print(standin.api_url, flush=True)
    logging.getLogger(__name__).info(
        "point a bot at it with SLACK_API_URL=%s and SLACK_BOT_TOKEN=<the --token> (and "
        "SLACK_APP_TOKEN=%s for --socket-mode); Ctrl-C stops",
        standin.api_url,
        standin.app_token,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
