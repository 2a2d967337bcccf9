"""Signing pages of the simulated Legalesign: sign, or reject with a reason."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connector.sandbox.pages import html_page, perform_action, read_form

_html = html_page


def page_routes(sim) -> list[Route]:
    def find(key: str):
        for document in sim.documents.values():
            for signer in document.signers:
                if signer.key == key:
                    return document, signer
        return None

    def index(_request: Request) -> Response:
        with sim.lock:
            items = "".join(
                f"<li><b>{escape(d.name)}</b> status {d.status}<ul>"
                + "".join(f"<li><a href='/sandbox/sign/{s.key}'>{escape(s.email)}</a> ({s.status})</li>"
                          for s in d.signers) + "</ul></li>" for d in sim.documents.values())
        return _html("Legalsign sandbox", f"<h1>Legalesign sandbox</h1><ul>{items or '<li>None yet</li>'}</ul>")

    def page(request: Request) -> Response:
        with sim.lock:
            found = find(request.path_params["key"])
            if found is None:
                return _html("Not found", "<p>This link is not valid.</p>", 404)
            document, signer = found
            text = f"<h1>{escape(document.name)}</h1><p>Signer: {escape(signer.email)}</p>"
            if document.status != 10 or signer.status in (40, 60):
                return _html(document.name, text + f"<p>Nothing to do (document {document.status}, "
                             f"you {signer.status}).</p>")
            if signer.status == 4:
                return _html(document.name, text + "<p>Waiting for an earlier signer.</p>")
            if signer.sms and not signer.sms_verified:
                return _html(document.name, text + f"<p>Sandbox: the SMS code sent to {escape(signer.sms)} would be "
                             f"<b>{signer.sms_code}</b>.</p><form method='post'><input type='hidden' name='action' "
                             "value='sms'><input name='code' required> <button>Verify</button></form>")
        return _html(document.name, text + "<form method='post'><input type='hidden' name='action' value='sign'>"
                     "<button>Sign</button></form><form method='post'><input type='hidden' name='action' "
                     "value='reject'><textarea name='reason' required></textarea><button>Reject</button></form>")

    async def act(request: Request) -> Response:
        found = find(request.path_params["key"])
        if found is None:
            return _html("Not found", "<p>This link is not valid.</p>", 404)
        document, signer = found
        failure = perform_action(sim, document.uuid, signer.email, await read_form(request))
        return failure or RedirectResponse(f"/sandbox/sign/{signer.key}", status_code=303)

    return [Route("/sandbox/", index, methods=["GET"]), Route("/sandbox/sign/{key}", page, methods=["GET"]),
            Route("/sandbox/sign/{key}", act, methods=["POST"])]
