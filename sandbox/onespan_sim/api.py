"""HTTP routes of the simulated OneSpan Sign: the REST API under /api and the signing pages."""

from __future__ import annotations

import hmac

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.onespan_sim.documents import current_pdf, documents_zip
from sandbox.onespan_sim.model import CONSENT_ID, STATUSES, OneSpanError, invalid, not_found
from sandbox.onespan_sim.pages import page_routes
from sandbox.onespan_sim.wire import (
    error_response,
    file_response,
    json_body,
    json_response,
    parse_create_multipart,
)

_PDF = "application/octet-stream; esl-api-version=11"
_LIST_QUERIES = {*STATUSES, "drafts", "inbox", "trashed"}
_SORTS = {"created", "completed", "updated", "due", "name", "status"}
_MAX_PAGE = 100


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise invalid(f"{name} must be a whole number >= 1.", "error.validation.query.range")
    return int(raw)


def _listed(package, query: str | None) -> bool:
    if query == "trashed":
        return package.trashed
    if package.trashed:
        return False
    if query == "drafts":
        return package.status == "DRAFT"
    if query == "inbox":
        return package.status != "DRAFT"
    return query is None or package.status == query


def build_app(sim) -> Starlette:
    def api(handler):
        async def wrapped(request: Request) -> Response:
            given = request.headers.get("authorization")
            if given is None:
                return error_response(OneSpanError(401, "error.unauthorised.noApiKey",
                                                   "Authorization header missing.", "Unauthorized"))
            if not hmac.compare_digest(given.encode(), f"Basic {sim.api_key}".encode()):
                return error_response(OneSpanError(401, "error.unauthorised.invalidApiKey",
                                                   "Invalid API key.", "Unauthorized"))
            try:
                return await handler(request)
            except OneSpanError as exc:
                return error_response(exc)
        return wrapped

    async def callback(request: Request) -> Response:
        if request.method == "POST":
            return json_response(sim.register_callback(await json_body(request)))
        with sim.lock:
            return json_response(dict(sim.callback))

    async def list_packages(request: Request) -> Response:
        query = request.query_params.get("query")
        if query is not None and query not in _LIST_QUERIES:
            raise invalid(f"Unknown query {query!r}.", "error.validation.query.invalid")
        start = _int_param(request, "from", 1)
        end = _int_param(request, "to", start + 9)
        if end < start or end - start + 1 > _MAX_PAGE:
            raise invalid(f"from..to must select 1 to {_MAX_PAGE} records.", "error.validation.query.range")
        sort, direction = request.query_params.get("sort", "created"), request.query_params.get("dir", "desc")
        if sort not in _SORTS or direction not in ("asc", "desc"):
            raise invalid("Unknown sort field or direction.", "error.validation.query.sort")
        search = request.query_params.get("search", "").lower()
        with sim.lock:
            packages = [sim.get(pid) for pid in list(sim.packages)]
            chosen = [p for p in packages if _listed(p, query) and search in p.payload["name"].lower()]
            chosen.sort(key=lambda p: str(p.payload.get(sort) or ""), reverse=direction == "desc")
            page = [p.public_view() for p in chosen[start - 1:end]]
            return json_response({"count": len(chosen), "results": page})

    async def create_package(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        body = await request.body()
        if content_type.startswith("multipart/form-data"):
            payload, files = parse_create_multipart(content_type, body)
        elif content_type.startswith("application/json"):
            payload, files = await json_body(request), []  # documents carry base64Content
        else:
            raise OneSpanError(415, "error.unsupportedMediaType", "Send the package as "
                               "multipart/form-data or application/json.", "Unsupported Media Type")
        return json_response({"id": sim.create(payload, files).id})

    async def package(request: Request) -> Response:
        package_id = request.path_params["id"]
        if request.method == "GET":
            return json_response(sim.package(package_id))
        if request.method == "DELETE":
            sim.delete(package_id)
        else:
            sim.update(package_id, await json_body(request))
        return Response(status_code=200)

    async def reminders(request: Request) -> Response:
        package_id = request.path_params["id"]
        if request.method == "GET":
            schedule = sim.reminder_schedule(package_id)
            return json_response(schedule) if schedule else Response(status_code=204)
        if request.method == "DELETE":
            sim.clear_reminders(package_id)
            return Response(status_code=204)
        data = await json_body(request)
        return json_response(sim.set_reminders(package_id, data, replace=request.method == "PUT"))

    async def signing_status(request: Request) -> Response:
        status = sim.signing_status(request.path_params["id"], request.query_params.get("signer") or None)
        return json_response({"status": status})

    def _document(request: Request):
        package = sim.get(request.path_params["id"])
        doc_id = request.path_params["doc"]
        document = next((d for d in package.payload["documents"] if d["id"] == doc_id), None)
        if document is None:
            raise not_found("document", "error.notFound.documentNotFound")
        return package, document

    async def document_pdf(request: Request) -> Response:
        with sim.lock:
            package, document = _document(request)
            return file_response(current_pdf(package, document["id"]), f"{document['name']}.pdf", _PDF)

    async def original(request: Request) -> Response:
        with sim.lock:
            package, document = _document(request)
            content = current_pdf(package, CONSENT_ID) if document["id"] == CONSENT_ID else package.files[
                document["id"]]
            return file_response(content, f"{document['name']}.pdf", _PDF)

    async def zipped(request: Request) -> Response:
        with sim.lock:
            package = sim.get(request.path_params["id"])
            return file_response(documents_zip(package), f"{package.payload['name']}.zip", "application/zip")

    async def evidence(request: Request) -> Response:
        with sim.lock:
            package = sim.get(request.path_params["id"])
            if package.evidence is None:
                # Availability before completion is unconfirmed; the sandbox refuses it.
                raise invalid("The evidence summary is available once the package is completed.",
                              "error.validation.evidence.packageNotCompleted")
            return file_response(package.evidence, "Evidence Summary.pdf",
                                 "application/pdf; esl-api-version=11")

    async def notifications(request: Request) -> Response:
        data = await json_body(request)
        email, message = data.get("email"), data.get("message")
        if not isinstance(email, str) or (message is not None and not isinstance(message, str)):
            raise invalid("email is required; message is optional text.", "error.validation.notify.invalid")
        sim.notify(request.path_params["id"], email, message)
        return Response(status_code=200)

    async def signing_url(request: Request) -> Response:
        package_id, role_id = request.path_params["id"], request.path_params["role"]
        with sim.lock:
            package = sim.get(package_id)
            role = package.role(role_id)
            if role is None:
                raise not_found("role", "error.notFound.roleNotFound")
            if not package.open_for_signing:
                raise invalid("A signing URL exists only for a SENT package.",
                              "error.validation.signingUrl.notSent")
            url = sim.signing_url(package_id, role["signers"][0]["email"])
        return json_response({"packageId": package_id, "roleId": role_id, "url": url})

    async def http_error(_request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        keys = {404: "error.notFound.resourceNotFound", 405: "error.methodNotAllowed"}
        key = keys.get(code, "error.internal")
        return error_response(OneSpanError(code, key, str(getattr(exc, "detail", "")) or "Server error",
                                           "Error"))

    prefix = "/api/packages/{id}"
    routes = [
        Route("/api/callback", api(callback), methods=["GET", "POST"]),
        Route("/api/packages", api(list_packages), methods=["GET"]),
        Route("/api/packages", api(create_package), methods=["POST"]),
        Route(prefix, api(package), methods=["GET", "POST", "PUT", "DELETE"]),
        Route(f"{prefix}/reminders", api(reminders), methods=["GET", "POST", "PUT", "DELETE"]),
        Route(f"{prefix}/signingStatus", api(signing_status), methods=["GET"]),
        Route(f"{prefix}/documents/zip", api(zipped), methods=["GET"]),
        Route(f"{prefix}/documents/{{doc}}/pdf", api(document_pdf), methods=["GET"]),
        Route(f"{prefix}/documents/{{doc}}/original", api(original), methods=["GET"]),
        Route(f"{prefix}/evidence/summary", api(evidence), methods=["GET"]),
        Route(f"{prefix}/notifications", api(notifications), methods=["POST"]),
        Route(f"{prefix}/roles/{{role}}/signingUrl", api(signing_url), methods=["GET"]),
        *page_routes(sim),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: http_error})
