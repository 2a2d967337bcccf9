"""HTTP routes of the simulated Legalesign API v1 (Tastypie conventions) and its signing pages."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.sandbox.legalsign_sim.pages import page_routes
from connector.sandbox.legalsign_sim.simulator import Invalid


def build_app(sim) -> Starlette:
    api_root = "/api/v1"

    def api(handler):
        async def wrapped(request: Request) -> Response:
            if request.headers.get("authorization") != f"ApiKey {sim.username}:{sim.api_key}":
                return Response(status_code=401)  # Tastypie answers bad credentials with an empty 401
            try:
                with sim.lock:
                    return await handler(request)
            except Invalid as exc:
                return JSONResponse(exc.errors, status_code=400)
        return wrapped

    async def body(request: Request) -> dict:
        try:
            data = json.loads(await request.body())
        except ValueError:
            raise Invalid({"error": "Request is not valid JSON"}) from None
        if not isinstance(data, dict):
            raise Invalid({"error": "Request must be a JSON object"})
        return data

    def created(path: str) -> Response:
        return Response(status_code=201, headers={"Location": f"{sim.public_url}{api_root}{path}"})

    def document_or_404(request: Request):
        document = sim.documents.get(request.path_params["id"])
        if document is None:
            raise _NotFound
        return document

    async def templatepdf(request: Request) -> Response:
        data = await body(request)
        if data.get("group") != f"/api/v1/group/{sim.group}/":
            raise Invalid({"templatepdf": {"group": ["This field is required or not accessible."]}})
        try:
            pdf = base64.b64decode(str(data.get("pdf_file", "")), validate=True)
        except (binascii.Error, ValueError):
            pdf = b""
        if not pdf.startswith(b"%PDF"):
            raise Invalid({"templatepdf": {"pdf_file": ["A base64-encoded PDF is required."]}})
        return created(f"/templatepdf/{sim.upload(data, pdf)}/")

    async def fields(request: Request) -> Response:
        pdf = sim.pdfs.get(request.path_params["id"])
        if pdf is None:
            return Response(status_code=404)
        if request.method == "GET":
            return JSONResponse(pdf["fields"])
        payload = json.loads(await request.body() or b"[]")
        if not isinstance(payload, list) or not all(isinstance(f, dict) and f.get("element_type") in (
                "signature", "initials", "text", "admin") and all(0 <= float(f.get(k, -1)) <= 1 for k in (
                "ax", "ay", "bx", "by")) for f in payload):
            raise Invalid({"fields": ["Each field needs element_type and ax, ay, bx, by between 0 and 1."]})
        pdf["fields"] = payload
        return created(f"/templatepdf/{request.path_params['id']}/fields/")

    async def documents(request: Request) -> Response:
        if request.method == "POST":
            document = sim.create_document(await body(request))
            return created(f"/document/{document.uuid}/")
        if request.query_params.get("group") != sim.group:
            raise Invalid({"group": ["This filter is required."]})
        limit = int(request.query_params.get("limit", 20))
        items = sorted(sim.documents.values(), key=lambda d: d.created, reverse=True)
        objects = [_document_json(sim, d, detail=False) for d in items[:limit]]
        return JSONResponse({"meta": {"limit": limit, "next": None, "offset": 0, "previous": None,
                                      "total_count": len(items)}, "objects": objects})

    async def document(request: Request) -> Response:
        doc = document_or_404(request)
        if request.method == "DELETE":
            sim.void(doc.uuid)
            return Response(status_code=204)
        return JSONResponse(_document_json(sim, doc, detail=True))

    async def auditlog(request: Request) -> Response:
        return Response(sim.audit_pdf(document_or_404(request)), media_type="application/pdf")

    async def pdf(request: Request) -> Response:
        doc = document_or_404(request)
        content = doc.final_pdf or sim.pdfs[doc.pdf_id]["pdf"]
        return Response(content, media_type="application/pdf")

    async def status(request: Request) -> Response:
        doc = document_or_404(request)
        return JSONResponse({"archived": False, "download_final": doc.final_pdf is not None,
                             "resource_uri": f"/api/v1/status/{doc.uuid}/", "status": doc.status, "tag": doc.tag,
                             "tag1": doc.tag1, "tag2": ""})

    def find_signer(signer_id: str):
        for doc in sim.documents.values():
            for signer in doc.signers:
                if signer.uuid == signer_id:
                    return doc, signer
        raise _NotFound

    async def rejection(request: Request) -> Response:
        _, signer = find_signer(request.path_params["id"])
        return JSONResponse({"status": signer.status, "reason": signer.reject_reason})

    async def reminder(request: Request) -> Response:
        doc, signer = find_signer(request.path_params["id"])
        if doc.status != 10 or signer.status in (4, 40, 60):
            return Response(status_code=401)  # Legalesign's "failed to send"
        signer.reminders += 1
        return Response(status_code=200)

    async def subscribe(request: Request) -> Response:
        data = await body(request)
        if not str(data.get("url", "")).startswith(("http://", "https://")) or data.get("notify") not in (
                "realtime", "all", "signed", "sent", "rejected"):
            raise Invalid({"subscribe": {"url": ["A valid url and notify are required."]}})
        sim.webhooks = [h for h in sim.webhooks if h["url"] != data["url"]]
        sim.webhooks.append({"url": data["url"], "notify": data["notify"], "eventFilter": data.get("eventFilter", ""),
                             "group": data.get("group")})
        return Response(status_code=201)

    routes = [
        Route(f"{api_root}/templatepdf/", api(templatepdf), methods=["POST"]),
        Route(f"{api_root}/templatepdf/{{id}}/fields/", api(fields), methods=["GET", "POST"]),
        Route(f"{api_root}/document/", api(documents), methods=["GET", "POST"]),
        Route(f"{api_root}/document/{{id}}/", api(document), methods=["GET", "DELETE"]),
        Route(f"{api_root}/document/{{id}}/auditlog/", api(auditlog), methods=["GET"]),
        Route(f"{api_root}/pdf/{{id}}/", api(pdf), methods=["GET"]),
        Route(f"{api_root}/status/{{id}}/", api(status), methods=["GET"]),
        Route(f"{api_root}/signer/{{id}}/rejection/", api(rejection), methods=["GET"]),
        Route(f"{api_root}/signer/{{id}}/send-reminder/", api(reminder), methods=["POST"]),
        Route(f"{api_root}/subscribe/", api(subscribe), methods=["POST"]),
        *page_routes(sim),
    ]
    app = Starlette(routes=routes, exception_handlers={_NotFoundError: lambda r, e: Response(status_code=404)})
    return app


class _NotFoundError(Exception):
    pass


_NotFound = _NotFoundError()


def _document_json(sim, doc, *, detail: bool) -> dict:
    data = {"uuid": doc.uuid, "resource_uri": f"/api/v1/document/{doc.uuid}/", "name": doc.name,
            "group": f"/api/v1/group/{sim.group}/", "status": doc.status, "archived": False, "tag": doc.tag,
            "tag1": doc.tag1, "tag2": "", "download_final": doc.final_pdf is not None,
            "hash_value": hashlib.sha256(doc.final_pdf).hexdigest() if doc.final_pdf else None,
            "templatepdf": f"/api/v1/templatepdf/{doc.pdf_id}/", "signature_type": 4, "signers_in_order": True,
            "created": doc.created.strftime("%Y-%m-%dT%H:%M:%S"),
            "signers": [[f"/api/v1/signer/{s.uuid}/", s.firstname, s.lastname, s.email, s.sms, True, s.status,
                         s.order] for s in doc.signers]}
    if detail:
        data["signer_objects"] = [{"uuid": s.uuid, "resource_uri": f"/api/v1/signer/{s.uuid}/",
                                   "firstname": s.firstname, "lastname": s.lastname, "email": s.email, "tel": s.sms,
                                   "order": s.order, "role": "signer", "status": s.status} for s in doc.signers]
    return data
