"""Application factory: ``create_app(settings)`` wires settings, the live index and routes."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.routes import admin, passages, search, status, ui
from indexer.embed import Embedder
from indexer.live import LiveIndex
from indexer.settings import Settings, get_settings


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """Build the service; it loads and warms the model and the index as it starts.

    Warming runs beside the server, so ``/health`` can say ``starting`` until
    it is done; queries that arrive meanwhile wait for the index to load.
    """
    settings = settings or get_settings()
    live = LiveIndex(settings, embedder)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=live.warm, name="warm-up", daemon=True).start()
        yield

    app = FastAPI(
        title="govspeech",
        summary="Search Chinese government speeches and reports by paragraph.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.live = live
    app.include_router(search.router)
    app.include_router(passages.router)
    app.include_router(status.router)
    app.include_router(admin.router)
    app.include_router(ui.router)
    app.mount("/static", ui.static_files(), name="static")

    @app.exception_handler(RequestValidationError)
    async def readable_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        """Say in one sentence what is wrong with the request, keep the details."""
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
            msg = (
                "unknown parameter or filter"
                if err.get("type") == "extra_forbidden"
                else err.get("msg")
            )
            problems.append(f"{where}: {msg}" if where else str(msg))
        return JSONResponse(
            status_code=422,
            content={"detail": "; ".join(problems), "errors": jsonable_encoder(exc.errors())},
        )

    return app
