"""HTTP routes of the simulated OneSpan Sign: the API under /api and the signing pages."""

from __future__ import annotations

import json
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.sandbox.onespan_sim.model import OneSpanError, invalid
from connector.sandbox.onespan_sim.pages import page_routes
from connector.sandbox.salesforce_sim.multipart import part_headers

_JSON = "application/json; esl-api-version=11"


def _error(exc: OneSpanError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.code)


def _multipart(content_type: str, body: bytes) -> tuple[dict, dict[str, bytes]]:
    if "boundary=" not in content_type:
        raise invalid("multipart/form-data needs a boundary.")
    boundary = content_type.split("boundary=", 1)[1].split(";")[0].strip('"').encode()
    payload, files = None, {}
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        disposition = part_headers(head).get("content-disposition", "")
        data = data.removesuffix(b"\r\n")
        if 'name="payload"' in disposition:
            try:
                payload = json.loads(data)
            except ValueError:
                raise invalid("The payload part is not valid JSON.") from None
        elif 'name="file"' in disposition and 'filename="' in disposition:
            files[disposition.split('filename="', 1)[1].split('"', 1)[0]] = data
        else:
            raise invalid("Unexpected multipart part; expected payload and file parts.")
    if payload is None:
        raise invalid("The payload part is missing.")
    return payload, files


def build_app(sim) -> Starlette:
    def api(handler):
        async def wrapped(request: Request) -> Response:
            if request.headers.get("authorization") != f"Basic {sim.api_key}":
                return _error(OneSpanError(401, "error.unauthorised.noApiKey", "Missing or invalid API key.",
                                           "Unauthorized"))
            try:
                return await handler(request)
            except OneSpanError as exc:
                return _error(exc)
        return wrapped

    async def json_body(request: Request) -> dict:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise invalid("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise invalid("The request body must be a JSON object.")
        return data

    async def callback(request: Request) -> Response:
        if request.method == "POST":
            data = await json_body(request)
            if not isinstance(data.get("url"), str) or not data["url"].startswith(("http://", "https://")):
                raise invalid("The callback url is invalid.", "error.validation.callback.url")
            with sim.lock:
                sim.callback = {"url": data["url"], "key": data.get("key"), "events": list(data.get("events", []))}
        return JSONResponse(sim.callback, media_type=_JSON)

    async def packages(request: Request) -> Response:
        if request.method == "GET":
            with sim.lock:
                items = sorted(sim.packages.values(), key=lambda p: p.created, reverse=True)
                start = max(1, int(request.query_params.get("from", 1)))
                end = min(start + 99, int(request.query_params.get("to", start + 9)))
                page = [p.payload for p in items[start - 1:end]]
                return JSONResponse({"count": len(items), "results": page}, media_type=_JSON)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            payload, files = _multipart(content_type, await request.body())
        else:
            raise invalid("Create packages with documents as multipart/form-data.")
        package = sim.create(payload, files)
        return JSONResponse({"id": package.id}, media_type=_JSON)

    async def package(request: Request) -> Response:
        package_id = request.path_params["id"]
        if request.method == "GET":
            with sim.lock:
                payload = sim._get(package_id).payload
                return JSONResponse({k: v for k, v in payload.items() if not k.startswith("_")}, media_type=_JSON)
        if request.method == "DELETE":
            with sim.lock:
                sim._get(package_id)
                del sim.packages[package_id]
            return Response(status_code=200)
        sim.update(package_id, await json_body(request))
        return Response(status_code=200)

    async def reminders(request: Request) -> Response:
        package_id = request.path_params["id"]
        if request.method == "GET":
            schedule = sim.package(package_id).get("_reminders")
            return JSONResponse(schedule, media_type=_JSON) if schedule else Response(status_code=204)
        return JSONResponse(sim.set_reminders(package_id, await json_body(request)), media_type=_JSON)

    async def signing_status(request: Request) -> Response:
        package = sim._get(request.path_params["id"])
        token = {"DRAFT": "DRAFT", "SENT": "SIGNING_PENDING"}.get(package.status, package.status)
        return JSONResponse({"status": token}, media_type=_JSON)

    def _file(content: bytes, name: str, media: str) -> Response:
        return Response(content, media_type=media,
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

    async def document_pdf(request: Request) -> Response:
        package = sim._get(request.path_params["id"])
        doc_id = request.path_params["doc"]
        if doc_id not in package.files:
            raise OneSpanError(404, "error.notFound.documentNotFound", "The document was not found.", "Not Found")
        content = package.signed_pdfs.get(doc_id, package.files[doc_id])
        return _file(content, f"{doc_id}.pdf", "application/octet-stream; esl-api-version=11")

    async def original(request: Request) -> Response:
        package = sim._get(request.path_params["id"])
        return _file(package.files[request.path_params["doc"]], "original.pdf",
                     "application/octet-stream; esl-api-version=11")

    async def evidence(request: Request) -> Response:
        package = sim._get(request.path_params["id"])
        if package.evidence is None:
            raise OneSpanError(400, "error.validation.evidence.notCompleted",
                               "The evidence summary is available once the package is completed.")
        return _file(package.evidence, "evidence-summary.pdf", "application/pdf; esl-api-version=11")

    async def notifications(request: Request) -> Response:
        package = sim._get(request.path_params["id"])
        data = await json_body(request)
        if package.status != "SENT":
            raise invalid("Notifications can only be sent for a SENT package.", "error.validation.notify.notSent")
        if package.role_for_email(str(data.get("email", ""))) is None:
            raise invalid("No signer with that email.", "error.validation.notify.signer")
        with sim.lock:
            package.notifications += 1
        return Response(status_code=200)

    routes = [
        Route("/api/callback", api(callback), methods=["GET", "POST"]),
        Route("/api/packages", api(packages), methods=["GET", "POST"]),
        Route("/api/packages/{id}", api(package), methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/api/packages/{id}/reminders", api(reminders), methods=["GET", "POST", "PUT"]),
        Route("/api/packages/{id}/signingStatus", api(signing_status), methods=["GET"]),
        Route("/api/packages/{id}/documents/{doc}/pdf", api(document_pdf), methods=["GET"]),
        Route("/api/packages/{id}/documents/{doc}/original", api(original), methods=["GET"]),
        Route("/api/packages/{id}/evidence/summary", api(evidence), methods=["GET"]),
        Route("/api/packages/{id}/notifications", api(notifications), methods=["POST"]),
        *page_routes(sim),
    ]
    return Starlette(routes=routes)
