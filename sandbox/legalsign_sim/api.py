"""HTTP routes of the simulated Legalesign API v1 (Tastypie conventions) and its signing pages.

Handlers are plain functions run in the thread pool with the request body already read, so the
simulator's lock is never held across an `await`.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.legalsign_sim.model import document_json, signer_json, status_json, template_json
from sandbox.legalsign_sim.pages import page_routes
from sandbox.legalsign_sim.validation import (
    GROUP_URI,
    NOTIFY_WHEN,
    Invalid,
    Unprocessable,
    parse_json,
)

API_ROOT = "/api/v1"
_AUTH = re.compile(r"^ApiKey (?P<user>[^:\s]+):(?P<secret>\S+)$")
# Tastypie's canned 500 body (TASTYPIE_CANNED_ERROR); Legalesign's exact 500 body is not documented.
_CANNED_500 = {"error_message": "Sorry, this request could not be processed. Please try again later."}
Handler = Callable[[Request, bytes], Response]


class NotFound(Exception):
    pass


def _pdf(content: bytes) -> Response:
    return Response(content, media_type="application/pdf")


def build_app(sim) -> Starlette:
    def authorised(request: Request) -> bool:
        match = _AUTH.match(request.headers.get("authorization", ""))
        return bool(match) and hmac.compare_digest(match["user"], sim.username) and hmac.compare_digest(
            match["secret"], sim.api_key)

    def api(handler: Handler):
        async def endpoint(request: Request) -> Response:
            if not authorised(request):
                return Response(status_code=401)  # Tastypie answers bad credentials with an empty 401
            if not sim.allow_call():
                return Response(status_code=429)
            raw = await request.body()
            try:
                return await run_in_threadpool(handler, request, raw)
            except Invalid as exc:
                return JSONResponse(exc.errors, status_code=400)
            except Unprocessable:
                return JSONResponse(_CANNED_500, status_code=500)
            except NotFound:
                return Response(status_code=404)
        return endpoint

    def created(path: str, body: dict | None = None) -> Response:
        headers = {"Location": f"{sim.public_url}{API_ROOT}{path}"}
        if body is None:
            return Response(status_code=201, headers=headers)
        return JSONResponse(body, status_code=201, headers=headers)

    def the_document(request: Request):
        document = sim.documents.get(request.path_params["id"])
        if document is None:
            raise NotFound
        return document

    def the_signer(request: Request):
        found = sim.find_signer(request.path_params["id"])
        if found is None:
            raise NotFound
        return found

    def the_template(request: Request):
        template = sim.templates.get(request.path_params["id"])
        if template is None:
            raise NotFound
        return template

    def post_templatepdf(_request: Request, raw: bytes) -> Response:
        return created(f"/templatepdf/{sim.upload(parse_json(raw)).uuid}/")

    def get_templatepdf(request: Request, _raw: bytes) -> Response:
        return JSONResponse(template_json(the_template(request), sim.group))

    def fields(request: Request, raw: bytes) -> Response:
        template = the_template(request)
        if request.method == "GET":
            return JSONResponse(template.fields)
        sim.set_fields(template, parse_json(raw))
        return Response(status_code=201)

    def post_document(_request: Request, raw: bytes) -> Response:
        data = parse_json(raw)
        document = sim.create_document(data)
        links = None
        if data.get("return_signer_links"):
            links = {f"signer_{n}": sim.signing_url(document.uuid, s.email)
                     for n, s in enumerate(document.signers, start=1)}
        return created(f"/document/{document.uuid}/", links)

    def list_documents(request: Request, _raw: bytes) -> Response:
        query = request.query_params
        group = query.get("group", "")
        match = GROUP_URI.match(group)
        if (match.group(1) if match else group) != sim.group:
            raise Invalid({"group": ["A group you belong to is required, as slug or resource URI."]})
        try:
            limit = min(int(query.get("limit", 20)), 1000)
            offset = int(query.get("offset", 0))
            status = int(query["status"]) if query.get("status") else None
            created_gt = datetime.fromisoformat(query["created_gt"]) if query.get("created_gt") else None
        except ValueError:
            raise Invalid({"error": "Invalid filter value."}) from None
        if limit < 1 or offset < 0:
            raise Invalid({"error": "limit and offset must be positive."})
        if created_gt is not None and created_gt.tzinfo is None:
            created_gt = created_gt.replace(tzinfo=UTC)
        found = sim.list_documents(archived=query.get("archived", "false").lower() in ("true", "1"),
                                   email=query.get("email"), status=status, created_gt=created_gt)
        with sim.lock:
            objects = [document_json(d, detail=False, with_signers=query.get("nosigners") != "1")
                       for d in found[offset:offset + limit]]

        def page(at: int) -> str:
            params = {k: v for k, v in query.items() if k not in ("limit", "offset")}
            return f"{API_ROOT}/document/?{urlencode({**params, 'limit': limit, 'offset': at})}"

        meta = {"limit": limit, "offset": offset, "total_count": len(found),
                "next": page(offset + limit) if offset + limit < len(found) else None,
                "previous": page(max(0, offset - limit)) if offset else None}
        return JSONResponse({"meta": meta, "objects": objects})

    def document(request: Request, _raw: bytes) -> Response:
        doc = the_document(request)
        if request.method == "DELETE":
            sim.void(doc.uuid, notify=request.query_params.get("email", "").lower() in ("true", "1"))
            return Response(status_code=204)
        with sim.lock:
            return JSONResponse(document_json(doc, detail=True))

    def auditlog(request: Request, _raw: bytes) -> Response:
        return _pdf(sim.audit_pdf(the_document(request)))

    def pdf(request: Request, _raw: bytes) -> Response:
        with sim.lock:
            content = sim.pdf_for_download(the_document(request))
        if sim.pdf_delivery == "restoring":
            return Response(status_code=201)  # in cold storage; available in about 4 hours
        if sim.pdf_delivery == "redirect":
            return RedirectResponse(sim.short_lived_link(content), status_code=302)
        return _pdf(content)

    def status(request: Request, _raw: bytes) -> Response:
        doc = the_document(request)
        with sim.lock:
            return JSONResponse(status_json(doc))

    def signer(request: Request, _raw: bytes) -> Response:
        doc, found = the_signer(request)
        with sim.lock:
            return JSONResponse(signer_json(doc, found))

    def rejection(request: Request, _raw: bytes) -> Response:
        _, found = the_signer(request)
        with sim.lock:
            return JSONResponse({"status": found.status, "reason": found.reject_reason})

    def reminder(request: Request, raw: bytes) -> Response:
        doc, found = the_signer(request)
        data = parse_json(raw) if raw else {}
        text = data.get("text", "") if isinstance(data, dict) else None
        if not isinstance(text, str) or len(text) > 10000:
            raise Invalid({"text": "At most 10000 characters of text."})
        # Legalesign documents 401 as "failed to send", with no body.
        return Response(status_code=200 if sim.remind(found, doc, text) else 401)

    def new_link(request: Request, _raw: bytes) -> Response:
        doc, found = the_signer(request)
        return Response(status_code=201, headers={"Location": sim.new_signing_link(doc.uuid, found.email)})

    def subscribe(_request: Request, raw: bytes) -> Response:
        hook_id = sim.subscribe(parse_json(raw, bad_json_is_400=True))
        return created(f"/unsubscribe/{hook_id}/")

    def unsubscribe(_request: Request, raw: bytes) -> Response:
        data = parse_json(raw, bad_json_is_400=True)
        if not isinstance(data, dict) or not re.match(r"^(http|https)://", str(data.get("url", ""))):
            raise Invalid({"unsubscribe": {"url": ["A valid URL is required."]}})
        sim.unsubscribe(data["url"], data.get("eventFilter"))
        return Response(status_code=200)  # whether or not the URL was registered

    def notifications(_request: Request, _raw: bytes) -> Response:
        with sim.lock:
            return JSONResponse([{"active": True, "notify_when": NOTIFY_WHEN[h["notify"]], "url": h["url"],
                                  "group_id": 1 if h["group"] else None, "event_filter": h["eventFilter"]}
                                 for h in sim.webhooks])

    async def short_lived_download(request: Request) -> Response:
        content = sim.take_download(request.path_params["token"])
        return _pdf(content) if content is not None else Response("Link expired", status_code=403)

    def route(path: str, handler: Handler, *methods: str) -> Route:
        return Route(f"{API_ROOT}{path}", api(handler), methods=list(methods))

    routes = [
        route("/templatepdf/", post_templatepdf, "POST"),
        route("/templatepdf/{id}/", get_templatepdf, "GET"),
        route("/templatepdf/{id}/fields/", fields, "GET", "POST"),
        route("/document/", list_documents, "GET"),
        route("/document/", post_document, "POST"),
        route("/document/{id}/", document, "GET", "DELETE"),
        route("/document/{id}/auditlog/", auditlog, "GET"),
        route("/pdf/{id}/", pdf, "GET"),
        route("/status/{id}/", status, "GET"),
        route("/signer/{id}/", signer, "GET"),
        route("/signer/{id}/rejection/", rejection, "GET"),
        route("/signer/{id}/send-reminder/", reminder, "POST"),
        route("/signer/{id}/new-link/", new_link, "GET"),
        route("/subscribe/", subscribe, "POST"),
        route("/unsubscribe/", unsubscribe, "POST"),
        route("/notifications/", notifications, "GET"),
        Route("/sandbox/download/{token}", short_lived_download, methods=["GET"]),
        *page_routes(sim),
    ]
    return Starlette(routes=routes)

