"""Signing pages of the simulated Legalesign: sign, or reject with a reason."""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route


def _html(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
                        f"<body style='font-family:system-ui;margin:2rem'>{body}</body></html>", status_code=status)


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
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        from connector.sandbox.legalsign_sim.simulator import ActionRefused

        try:
            if form.get("action") == "sms":
                if not sim.enter_sms_code(document.uuid, signer.email, form.get("code", "")):
                    return _html("Wrong code", "<p>That code is not right.</p>", 400)
            elif form.get("action") == "sign":
                sim.sign(document.uuid, signer.email)
            elif form.get("action") == "reject" and form.get("reason", "").strip():
                sim.decline(document.uuid, signer.email, form["reason"].strip())
            else:
                return _html("Missing", "<p>Sign, or reject with a reason.</p>", 400)
        except ActionRefused as exc:
            return _html("Refused", f"<p>{escape(str(exc))}</p>", 409)
        return RedirectResponse(f"/sandbox/sign/{signer.key}", status_code=303)

    return [Route("/sandbox/", index, methods=["GET"]), Route("/sandbox/sign/{key}", page, methods=["GET"]),
            Route("/sandbox/sign/{key}", act, methods=["POST"])]
