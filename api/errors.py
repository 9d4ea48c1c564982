"""One error shape for every 4xx and 5xx, and the handlers that guarantee it.

Every error body is ``{"detail": "<one sentence>", "errors": [...] | null}``,
whatever went wrong, and the OpenAPI spec documents exactly that, so a client
needs one code path for failures. Validation details never echo the input
back: a value that was not finite or not valid Unicode cannot be rendered as
JSON, and echoing it was how bad input turned into a 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger(__name__)


class ErrorItem(BaseModel):
    """One problem with a request: where it is and what is wrong."""

    loc: list[str | int] = Field(..., description="Where: body, query or path, then field names.")
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """The body of every error response."""

    detail: str = Field(..., description="What is wrong and what to do, in one sentence.")
    errors: list[ErrorItem] | None = Field(None, description="Validation errors, one per problem.")


#: Responses every route may give, for the OpenAPI spec (``4XX`` also replaces FastAPI's
#: own 422 schema, which describes a ``detail`` array this service does not send).
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    "4XX": {"model": ErrorResponse, "description": "The request cannot be answered as sent."},
    503: {
        "model": ErrorResponse,
        "description": "The index cannot be served now, or the service is at its limit of "
        "concurrent searches (then Retry-After says when to try again).",
    },
}


def _answers() -> list[tuple[type[Exception], int, str | None, bool]]:
    """The one place domain errors become answers: (error, status, Retry-After, public text).

    A query to fix is a 422; an index the service cannot search now (none built, a
    model that does not match, Milvus away, a damaged file) or a search past its time
    budget is a 503 with Retry-After, never a 500. ``public``: the message may name
    servers or paths, so clients get :func:`indexer.live.public_reason` of it. The
    CLI's twin is ``govspeech.cli._user_errors``.
    """
    from indexer.dense import BackendUnavailable
    from indexer.live import IndexUnavailable
    from indexer.search import ModelMismatch, QueryError, SearchTimeout
    from indexer.version.version import DamagedIndex

    return [
        (QueryError, 422, None, False),
        (SearchTimeout, 503, "1", False),
        (IndexUnavailable, 503, "5", False),
        (ModelMismatch, 503, "5", True),
        (BackendUnavailable, 503, "5", True),
        (DamagedIndex, 503, "30", False),
    ]


def error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status, content=ErrorResponse(detail=detail).model_dump(), headers=headers
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _methods(request: Request) -> list[str]:
    """Every method some route answers at this path (GET and POST /search are two routes).

    Each method is asked of the routes' own ``matches`` (a full match is one that
    would answer): FastAPI keeps included routers as wrappers whose routes are not
    listed, so reading ``route.methods`` found none and every 405 had an empty Allow.
    """
    found = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            found.append(method)
    if "GET" in found and "HEAD" in found:
        found.remove("HEAD")  # implied by GET; Starlette answers HEAD for every GET route
    return found


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the :class:`ErrorResponse` shape."""

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        items, problems = [], []
        for err in exc.errors():
            loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
            where = ".".join(str(p) for p in loc if p not in ("body", "query", "path"))
            msg = (
                "unknown parameter or filter"
                if err.get("type") == "extra_forbidden"
                else str(err.get("msg", "invalid"))
            )
            items.append(ErrorItem(loc=loc, msg=msg, type=str(err.get("type", "value_error"))))
            problems.append(f"{where}: {msg}" if where else msg)
        body = ErrorResponse(detail="; ".join(problems) or "invalid request", errors=items)
        return JSONResponse(status_code=422, content=body.model_dump())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # Starlette names only the first route's methods
            headers["Allow"] = ", ".join(_methods(request))
        return error(exc.status_code, str(exc.detail), headers or None)

    for kind, status, retry, public in _answers():

        async def domain_error(
            _: Request, exc: Exception, status: int = status, retry: str | None = retry,
            public: bool = public,
        ) -> JSONResponse:  # fmt: skip
            from indexer.live import public_reason

            detail = public_reason(exc) if public else str(exc)
            return error(status, detail, {"Retry-After": retry} if retry else None)

        app.add_exception_handler(kind, domain_error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return error(500, "internal error; the service log says more")
