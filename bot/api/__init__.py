"""The producers' side: the FastAPI app, the /v1 routes, item views and /metrics."""
