"""Signing pages of the simulated Legalesign: one per signer, to sign or reject with a reason.

Opening the page while it is the signer's turn counts as a visit (signer status 20), as on
Legalesign. Everything shown is escaped. Sync handlers run in Starlette's thread pool.
"""

from __future__ import annotations

from html import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connector.sandbox.legalsign_sim.model import DOC_IN_PROGRESS, NOT_SENT, REJECTED, SIGNED
from connector.sandbox.pages import html_page, perform_action, read_form

_BANNER = "<p style='background:#fde68a;padding:.4rem'>API Test: sandbox document, not legally binding</p>"


_ACTIONS = ("<form method='post'><input type='hidden' name='action' value='sign'><button>Sign</button></form>"
            "<form method='post'><input type='hidden' name='action' value='reject'><label>Reason "
            "<textarea name='reason' required></textarea></label><button>Reject</button></form>")


def _page(title: str, body: str, status: int = 200) -> Response:
    return html_page(title, _BANNER + body, status)


def _sms_step(phone: str, code: str) -> str:
    return (f"<p>Sandbox: the SMS code sent to {escape(phone)} would be <b>{escape(code)}</b>.</p>"
            "<form method='post'><input type='hidden' name='action' value='sms'>"
            "<input name='code' required> <button>Verify</button></form>")


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
                + "".join(f"<li><a href='/sandbox/sign/{escape(s.key)}'>{escape(s.email)}</a> "
                          f"({s.status})</li>" for s in d.signers)
                + "</ul></li>" for d in sim.documents.values())
        listing = items or "<li>None yet</li>"
        return _page("Legalsign sandbox", f"<h1>Legalesign sandbox</h1><ul>{listing}</ul>")

    def show(request: Request) -> Response:
        with sim.lock:
            found = find(request.path_params["key"])
            if found is None:
                return _page("Not found", "<p>This link is not valid.</p>", 404)
            document, signer = found
            head = f"<h1>{escape(document.name)}</h1><p>Signer: {escape(signer.email)}</p>"
            if document.status != DOC_IN_PROGRESS or signer.status in (SIGNED, REJECTED):
                return _page(document.name, head + f"<p>Nothing to do (document {document.status}, "
                             f"you {signer.status}).</p>")
            if signer.status == NOT_SENT:
                return _page(document.name, head + "<p>Waiting for an earlier signer.</p>")
            try:
                sim.view(document.uuid, signer.email)
            except ValueError as refused:
                return _page(document.name, head + f"<p>{escape(str(refused))}</p>", 409)
            if signer.sms and not signer.sms_verified:
                return _page(document.name, head + _sms_step(signer.sms, signer.sms_code))
        return _page(document.name, head + _ACTIONS)

    async def act(request: Request) -> Response:
        form = await read_form(request)
        with sim.lock:
            found = find(request.path_params["key"])
        if found is None:
            return _page("Not found", "<p>This link is not valid.</p>", 404)
        document, signer = found
        failure = await run_in_threadpool(perform_action, sim, document.uuid, signer.email, form)
        return failure or RedirectResponse(f"/sandbox/sign/{signer.key}", status_code=303)

    def one_use(request: Request) -> Response:
        key = sim.use_link(request.path_params["token"])
        if key is None:
            return _page("Link used", "<p>This signing link is not valid or has been used already. Ask the sender "
                         "for a new one.</p>", 404)
        return RedirectResponse(f"/sandbox/sign/{key}", status_code=303)

    return [Route("/sandbox/", index, methods=["GET"]), Route("/sandbox/sign/{key}", show, methods=["GET"]),
            Route("/sandbox/esign/{token}", one_use, methods=["GET"]),
            Route("/sandbox/sign/{key}", act, methods=["POST"])]
