"""The HTTP server for provider callbacks, liveness, readiness and metrics.

Each callback is authenticated by its provider's adapter, recorded (committed together with the
other callbacks in flight, see `event_ingest`), then acknowledged; the work happens later, outside
the request. Refusals are logged at WARNING, each accepted callback at DEBUG, with a periodic INFO
summary. Each answer is reported to the `Observer` (accepted, or refused with one of `REFUSALS`).

/healthz answers whenever the process serves HTTP and tells nothing more (a liveness probe); /readyz runs
the daemon's readiness checks and names each as ok or failed, without detail (the log has it); /metrics is
the Prometheus text, behind a bearer token when one is configured.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from sqlalchemy import String
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from connector.inbound.event_ingest import EventIngest, IngestFailed
from connector.ports.log_context import log_context
from connector.ports.observer import NO_OBSERVER, Observer
from connector.ports.provider import SigningProvider, WebhookEvent, WebhookRejected
from connector.store import EventCaps, NewEvent, Store
from connector.store.models import EventRow

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    pass


# Why a callback was refused: the `reason` label of connector_webhooks_refused_total.
REFUSALS = ("unknown_path", "too_large", "incomplete", "unauthenticated", "invalid", "malformed", "unstorable",
            "not_recorded")


def _refusal(status_code: int) -> str:
    return "unauthenticated" if status_code in (401, 403) else "invalid"


_STORED_LENGTHS: dict[str, int] = {name: cast(int, cast(String, EventRow.__table__.c[name].type).length)
                                   for name in ("event_id", "request_id", "external_id", "kind")}


def _unstorable(event: WebhookEvent) -> str | None:
    """Why the store could not keep this event as given (PostgreSQL enforces lengths and refuses NUL),
    or None. No authentic callback carries such values, so they are refused rather than cut."""
    for name, limit in _STORED_LENGTHS.items():
        value = getattr(event, name)
        if value is None:
            continue
        if len(value) > limit:
            return f"callback {name} is longer than {limit} characters"
        if not value.isprintable():
            return f"callback {name} holds control characters"
    return None


def _informational(event: WebhookEvent) -> bool:
    """A callback whose provider says the request goes on (no ending state): nothing for a job to do.
    Events without a hint (types a provider added later, say) still wake their job."""
    return event.state_hint is not None and not event.state_hint.is_final


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def build_webhook_app(*, store: Store, providers: dict[str, SigningProvider], max_body_bytes: int,
                      on_event: Callable[[], None] = lambda: None, caps: EventCaps | None = None,
                      ready: Callable[[], bool] = lambda: True,
                      checks: Callable[[], Mapping[str, bool]] = dict,
                      metrics: Callable[[], bytes] | None = None, metrics_token: str | None = None,
                      metrics_content_type: str = "text/plain", observer: Observer = NO_OBSERVER,
                      extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """`on_event` is called (from the ingest thread) after a commit that recorded new events; `caps` bound
    what a flood of callbacks can store. /readyz, for load balancers, is ready when `ready()` (False while
    starting or shutting down; callbacks are still accepted) and every one of `checks()` passes. `metrics`
    renders /metrics (absent when None); with `metrics_token` it asks for `Authorization: Bearer <token>`.
    `extra_routes`: other inbound endpoints (push triggers)."""
    ingest = EventIngest(store, on_recorded=on_event, caps=caps)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        serving = ready()
        results = await run_in_threadpool(checks) if serving else {}
        named = {name: "ok" if passed else "failed" for name, passed in results.items()}
        if serving and all(results.values()):
            return JSONResponse({"status": "ready", "checks": named})
        return JSONResponse({"status": "not ready", "checks": named}, status_code=503)

    async def prometheus(request: Request) -> Response:
        if metrics_token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {metrics_token}".encode()):
                return PlainTextResponse("unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        assert metrics is not None
        return Response(await run_in_threadpool(metrics), media_type=metrics_content_type)

    async def receive(request: Request) -> Response:
        name = request.path_params["provider"]
        provider = providers.get(name)
        if provider is None or not provider.accepts_path_token(request.path_params.get("token")):
            observer.webhook_refused(name if provider else "unknown", "unknown_path")
            return PlainTextResponse("not found", status_code=404)
        try:
            body = await read_capped(request, max_body_bytes)
        except BodyTooLarge:
            log.warning("webhook %s: body over %d bytes refused", name, max_body_bytes)
            observer.webhook_refused(name, "too_large")
            return PlainTextResponse("body too large", status_code=413)
        except ClientDisconnect:  # the sender went, or was closed for being too slow (server_guard.py)
            log.debug("webhook %s: the connection closed before the body was read", name)
            observer.webhook_refused(name, "incomplete")
            return PlainTextResponse("incomplete body", status_code=400)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            event = provider.parse_webhook(headers, body)
            problem = _unstorable(event)
        except WebhookRejected as exc:
            log.warning("webhook %s refused (%d): %s", name, exc.status_code, exc.reason)
            observer.webhook_refused(name, _refusal(exc.status_code))
            return PlainTextResponse(exc.reason, status_code=exc.status_code)
        except Exception as exc:  # noqa: BLE001 - a last resort: whatever the body, the sender caused it
            # One line and no traceback: the body is the sender's and a traceback would only repeat it.
            # The exception's message is left out too, since it may quote the body.
            log.warning("webhook %s refused (400): the callback could not be read (%s)", name, type(exc).__name__)
            observer.webhook_refused(name, "malformed")
            return PlainTextResponse("malformed callback", status_code=400)
        if problem is not None:
            log.warning("webhook %s refused (400): %s", name, problem)
            observer.webhook_refused(name, "unstorable")
            return PlainTextResponse(problem, status_code=400)
        with log_context(provider=name, request_id=event.request_id):
            return await _record(name, event)

    async def _record(name: str, event: WebhookEvent) -> Response:
        try:
            fresh = await ingest.record(NewEvent(provider=name, event_id=event.event_id, request_id=event.request_id,
                                                 external_id=event.external_id, kind=event.kind,
                                                 informational=_informational(event), stale=event.stale))
        except IngestFailed:
            observer.webhook_refused(name, "not_recorded")
            return PlainTextResponse("could not record the event; retry later", status_code=503)
        if fresh:
            log.debug("webhook %s: %s for request %s recorded%s", name, event.kind, event.request_id,
                      " (stale: dated outside the replay window; a hint only)" if event.stale else "")
        elif fresh is None:
            log.debug("webhook %s: %s for request %s not kept (over a cap)", name, event.kind, event.request_id)
        else:
            log.debug("webhook %s: event %s ignored (a redelivery, or stale and informational)", name,
                      event.event_id)
        observer.webhook_accepted(name)
        return PlainTextResponse("OK")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/webhooks/{provider}", receive, methods=["POST"]),
        Route("/webhooks/{provider}/{token}", receive, methods=["POST"]),
        *extra_routes,
    ]
    if metrics is not None:
        routes.append(Route("/metrics", prometheus, methods=["GET"]))
    app = Starlette(routes=routes)
    # No 307 from /path/ to /path: Starlette builds that Location from the request's Host header.
    app.router.redirect_slashes = False
    app.state.ingest = ingest
    return app
