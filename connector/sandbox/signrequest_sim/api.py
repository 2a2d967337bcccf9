"""HTTP routes of the simulated SignRequest: the API under /api/v1/, file links, signing pages."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.sandbox.signrequest_sim.pages import page_routes
from connector.sandbox.signrequest_sim.validation import Invalid, check_signrequest


def _page(items: list, request: Request, base: str) -> dict:
    try:
        page = max(1, int(request.query_params.get("page", 1)))
        limit = min(100, max(1, int(request.query_params.get("limit", 10))))
    except ValueError:
        page, limit = 1, 10
    chunk = items[(page - 1) * limit: page * limit]
    more = page * limit < len(items)
    return {"count": len(items), "next": f"{base}?limit={limit}&page={page + 1}" if more else None,
            "previous": f"{base}?limit={limit}&page={page - 1}" if page > 1 else None, "results": chunk}


def build_app(sim) -> Starlette:
    def authorised(request: Request) -> bool:
        return request.headers.get("authorization") == f"Token {sim.api_token}"

    def denied() -> JSONResponse:
        return JSONResponse({"detail": "Invalid token."}, status_code=401)

    async def body_json(request: Request) -> dict:
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise Invalid({"detail": "Unsupported media type in request; use application/json."})
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise Invalid({"detail": "JSON parse error."}) from None
        if not isinstance(data, dict):
            raise Invalid({"non_field_errors": ["Invalid data. Expected a dictionary."]})
        return data

    def api(handler):
        async def wrapped(request: Request) -> Response:
            if not authorised(request):
                return denied()
            try:
                return await handler(request)
            except Invalid as exc:
                return JSONResponse(exc.errors, status_code=400)
        return wrapped

    async def documents(request: Request) -> Response:
        if request.method == "POST":
            data = await body_json(request)
            document = sim.create_document(data)
            with sim.store.lock:
                return JSONResponse(sim.to_json(document), status_code=201)
        items = sim.documents()
        for key in ("external_id", "status"):
            if key in request.query_params:
                items = [d for d in items if d[key] == request.query_params[key]]
        return JSONResponse(_page(items, request, f"{sim.urls.api}/documents/"))

    async def document(request: Request) -> Response:
        document_uuid = request.path_params["uuid"]
        if document_uuid not in sim.store.documents:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        if request.method == "DELETE":
            with sim.store.lock:
                del sim.store.documents[document_uuid]
            return Response(status_code=204)
        return JSONResponse(sim.document(document_uuid))

    async def quick_create(request: Request) -> Response:
        data = await body_json(request)
        check_signrequest(data)
        document = sim.create_document(data)
        sim.send(document, data)
        with sim.store.lock:
            payload = sim.to_json(document)
        signrequest = payload["signrequest"]
        flat = {**{k: v for k, v in payload.items() if k not in ("url", "uuid", "signrequest", "status")},
                **signrequest, "document": payload["url"]}
        return JSONResponse(flat, status_code=201)

    async def signrequests(request: Request) -> Response:
        data = await body_json(request)
        url = str(data.get("document", ""))
        document_uuid = url.rstrip("/").rsplit("/", 1)[-1]
        document = sim.store.documents.get(document_uuid)
        if document is None or not url.startswith(sim.urls.api):
            raise Invalid({"document": ["Invalid hyperlink - Object does not exist."]})
        sim.send(document, data)
        with sim.store.lock:
            return JSONResponse(sim.to_json(document)["signrequest"], status_code=201)

    async def signrequest(request: Request) -> Response:
        found = next((d for d in sim.store.documents.values()
                      if d.signrequest and d.signrequest["uuid"] == request.path_params["uuid"]), None)
        if found is None:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        with sim.store.lock:
            return JSONResponse(sim.to_json(found)["signrequest"])

    async def cancel(request: Request) -> Response:
        from connector.sandbox.signrequest_sim.simulator import ActionRefused

        try:
            sim.cancel(request.path_params["uuid"])
        except KeyError:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        except ActionRefused as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return JSONResponse({"detail": "OK", "cancelled": True}, status_code=201)

    async def resend(request: Request) -> Response:
        found = next((d for d in sim.store.documents.values()
                      if d.signrequest and d.signrequest["uuid"] == request.path_params["uuid"]), None)
        if found is None:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        if found.status in ("si", "de", "ca", "xp"):
            return JSONResponse({"detail": "This signrequest is already finished."}, status_code=400)
        found.reminders += 1
        return JSONResponse({"detail": "OK"}, status_code=201)

    async def events(request: Request) -> Response:
        items = list(sim.events)
        filters = {"document__uuid": "document_uuid", "document__external_id": "external_id",
                   "event_type": "event_type"}
        for param, key in filters.items():
            if param in request.query_params:
                items = [e for e in items if e[key] == request.query_params[param]]
        return JSONResponse(_page(items, request, f"{sim.urls.api}/events/"))

    async def file(request: Request) -> Response:
        content = sim.store.file_for(request.path_params["token"])
        if content is None:
            return Response("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                            status_code=403, media_type="application/xml")
        return Response(content, media_type="application/pdf")

    routes = [
        Route("/api/v1/documents/", api(documents), methods=["GET", "POST"]),
        Route("/api/v1/documents/{uuid}/", api(document), methods=["GET", "DELETE"]),
        Route("/api/v1/signrequest-quick-create/", api(quick_create), methods=["POST"]),
        Route("/api/v1/signrequests/", api(signrequests), methods=["POST"]),
        Route("/api/v1/signrequests/{uuid}/", api(signrequest), methods=["GET"]),
        Route("/api/v1/signrequests/{uuid}/cancel_signrequest/", api(cancel), methods=["POST"]),
        Route("/api/v1/signrequests/{uuid}/resend_signrequest_email/", api(resend), methods=["POST"]),
        Route("/api/v1/events/", api(events), methods=["GET"]),
        Route("/files/{token}/{name}", file, methods=["GET"]),
        *page_routes(sim),
    ]
    app = Starlette(routes=routes)
    app.router.redirect_slashes = False  # DRF here answers 404 to a path without its trailing slash
    return app

