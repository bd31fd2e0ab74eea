"""A producer's client of the hitl-review-bot HTTP API, usable on its own.

    from hitl_client import HitlClient

    with HitlClient("https://hitl.example.com", token) as hitl:
        for answer in hitl.submit("fraud", items):
            ...

It imports nothing of the server (only httpx), so a scoring job can install and use it alone.
"""

from hitl_client.client import MAX_BATCH, HitlApiError, HitlClient, Scored

__all__ = ["MAX_BATCH", "HitlApiError", "HitlClient", "Scored"]
