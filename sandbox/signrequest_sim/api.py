"""HTTP routes of the simulated SignRequest: the API under /api/v1/, temporary file links, signing pages.

Like DRF behind Django without APPEND_SLASH, a path without its trailing slash is a 404, whatever the method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.signrequest_sim.drf import Refusal, authenticate, not_found, paginate, read_body
from sandbox.signrequest_sim.pages import page_routes
from sandbox.signrequest_sim.signing import ActionRefused
from sandbox.signrequest_sim.state import Document
from sandbox.signrequest_sim.validation import Invalid

Handler = Callable[[Request], Awaitable[Response]]
STATUSES = ("co", "ne", "se", "vi", "si", "do", "sd", "ca", "de", "ec", "es", "xp")
EVENT_TYPES = ("convert_error", "converted", "sending_error", "sent", "declined", "cancelled", "expired",
               "signed", "viewed", "downloaded", "signer_signed", "signer_email_bounced",
               "signer_viewed_email", "signer_viewed", "signer_forwarded", "signer_downloaded",
               "signrequest_received")
EXPIRED_LINK = ("<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
                "<Message>Request has expired</Message></Error>")


def _sent_by(document: Document, who: str | None, from_email: str | None) -> bool:
    """The signrequest__who / signrequest__from_email filters (unset filters match everything)."""
    if who is None and from_email is None:
        return True
    fields = document.signrequest.fields if document.signrequest else None
    return fields is not None and (who is None or fields.get("who", "o") == who) and (
        from_email is None or fields["from_email"].lower() == from_email.lower())


def _choice_filter(request: Request, name: str, choices: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name)
    if value and value not in choices:
        raise Refusal(400, {name: [f"Select a valid choice. {value} is not one of the available choices."]})
    return value or None


def build_app(sim) -> Starlette:
    store = sim.store

    def api(handlers: dict[str, Handler]) -> Handler:
        """Authenticate first, then the method check, as a DRF view does."""
        async def endpoint(request: Request) -> Response:
            try:
                authenticate(request, sim.api_token)
                allowed = ", ".join([*handlers, "OPTIONS"])
                if request.method == "OPTIONS":
                    return Response(status_code=200, headers={"Allow": allowed})
                handler = handlers.get("GET" if request.method == "HEAD" else request.method)
                if handler is None:
                    raise Refusal(405, {"detail": f'Method "{request.method}" not allowed.'},
                                  {"Allow": allowed})
                sim.run_due()
                return await handler(request)
            except Refusal as refusal:
                return refusal.response()
            except Invalid as invalid:
                return JSONResponse(invalid.errors, status_code=400)
        return endpoint

    def page(request: Request, items: list, render: Callable[[list], list]) -> JSONResponse:
        return JSONResponse(paginate(request, sim.public_url.rstrip("/"), items, render))

    async def list_documents(request: Request) -> Response:
        status = _choice_filter(request, "status", STATUSES)
        external_id = request.query_params.get("external_id")
        who = request.query_params.get("signrequest__who")
        sender = request.query_params.get("signrequest__from_email")
        with store.lock:
            documents = [d for d in reversed(store.documents.values())  # newest first
                         if (status is None or d.status == status) and _sent_by(d, who, sender)
                         and (external_id is None or d.external_id == external_id)]
            return page(request, documents, lambda chunk: [sim.serializer.document(d) for d in chunk])

    async def create_document(request: Request) -> Response:
        return JSONResponse(sim.create_document(await read_body(request)), status_code=201)

    async def read_document(request: Request) -> Response:
        with store.lock:
            document = store.documents.get(request.path_params["uuid"])
            if document is None:
                raise not_found()
            return JSONResponse(sim.serializer.document(document))

    async def delete_document(request: Request) -> Response:
        try:
            sim.delete(request.path_params["uuid"])
        except KeyError:
            raise not_found() from None
        return Response(status_code=204)

    async def quick_create(request: Request) -> Response:
        return JSONResponse(sim.quick_create(await read_body(request)), status_code=201)

    async def list_signrequests(request: Request) -> Response:
        who, sender = request.query_params.get("who"), request.query_params.get("from_email")
        with store.lock:
            documents = [d for d in reversed(store.documents.values())
                         if d.signrequest and _sent_by(d, who, sender)]
            return page(request, documents, lambda chunk: [sim.serializer.signrequest(d) for d in chunk])

    async def create_signrequest(request: Request) -> Response:
        return JSONResponse(sim.create_signrequest(await read_body(request)), status_code=201)

    async def read_signrequest(request: Request) -> Response:
        with store.lock:
            document = store.by_signrequest(request.path_params["uuid"])
            if document is None:
                raise not_found()
            return JSONResponse(sim.serializer.signrequest(document))

    def sender_action(action: Callable[[str], None], answer: dict) -> Handler:
        async def run(request: Request) -> Response:
            try:
                action(request.path_params["uuid"])
            except KeyError:
                raise not_found() from None
            except ActionRefused as refused:
                raise Refusal(400, {"detail": str(refused)}) from None
            return JSONResponse(answer, status_code=201)
        return run

    async def list_events(request: Request) -> Response:
        event_type = _choice_filter(request, "event_type", EVENT_TYPES)
        status = _choice_filter(request, "status", ("ok", "error"))
        document_uuid = request.query_params.get("document__uuid")
        external_id = request.query_params.get("document__external_id")
        with store.lock:
            events = [e for e in reversed(store.events)  # newest first
                      if (event_type is None or e.event_type == event_type)
                      and (status is None or e.status == status)
                      and (document_uuid is None or e.document.uuid == document_uuid)
                      and (external_id is None or e.document.external_id == external_id)]
            return page(request, events, sim.events_json)

    async def read_event(request: Request) -> Response:
        with store.lock:
            event = next((e for e in store.events if e.uuid == request.path_params["uuid"]), None)
            if event is None:
                raise not_found()
            return JSONResponse(sim.events_json([event])[0])

    async def file(request: Request) -> Response:
        content = store.file_content(request.path_params["token"])
        if content is None:  # like an expired pre-signed S3 link
            return Response(EXPIRED_LINK, status_code=403, media_type="application/xml")
        return Response(content, media_type="application/pdf")

    def resource(path: str, handlers: dict[str, Handler]) -> Route:
        every_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return Route(f"/api/v1{path}", api(handlers), methods=every_method)

    cancel = sender_action(sim.cancel, {"detail": "OK", "cancelled": True})
    resend = sender_action(sim.resend, {"detail": "OK"})
    routes = [
        resource("/documents/", {"GET": list_documents, "POST": create_document}),
        resource("/documents/{uuid}/", {"GET": read_document, "DELETE": delete_document}),
        resource("/signrequest-quick-create/", {"POST": quick_create}),
        resource("/signrequests/", {"GET": list_signrequests, "POST": create_signrequest}),
        resource("/signrequests/{uuid}/", {"GET": read_signrequest}),
        resource("/signrequests/{uuid}/cancel_signrequest/", {"POST": cancel}),
        resource("/signrequests/{uuid}/resend_signrequest_email/", {"POST": resend}),
        resource("/events/", {"GET": list_events}),
        resource("/events/{uuid}/", {"GET": read_event}),
        Route("/files/{token}/{name}", file, methods=["GET"]),
        *page_routes(sim),
    ]
    app = Starlette(routes=routes)
    app.router.redirect_slashes = False
    return app
