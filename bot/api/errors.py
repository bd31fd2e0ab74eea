"""Error handlers of the web app: bad input of any shape is a 4xx naming what is wrong.

Routes translate their own errors (``HTTPException``); these cover what can escape from the
parsing layers on input no route foresaw: data nested past Python's recursion limit, and a
request FastAPI could not validate (its 422, kept). Each answer is an ordinary response, so the
keep-alive connection survives it.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def add_error_handlers(web: FastAPI) -> None:
    @web.exception_handler(RecursionError)
    async def too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        detail = [{"loc": ["body"], "msg": "nested too deeply", "type": "too_deep"}]
        return JSONResponse({"detail": detail}, status_code=422)
