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

from sandbox.legalsign_sim.model import (
    DOC_FIELDS_DONE,
    DOC_IN_PROGRESS,
    DOC_REJECTED,
    DOC_REMOVED,
    DOC_SIGNED,
    EMAIL_OPENED,
    NOT_SENT,
    REJECTED,
    SENT,
    SIGNED,
    VISITED,
)
from sandbox.pages import error_note, html_page, perform_action, read_form, status_words

_BANNER = "<p style='background:#fde68a;padding:.4rem'>API Test: sandbox document, not legally binding</p>"


_ACTIONS = ("<form method='post'><input type='hidden' name='action' value='sign'><button>Sign</button></form>"
            "<form method='post'><input type='hidden' name='action' value='reject'><label>Reason "
            "<textarea name='reason' required></textarea></label><button>Reject</button></form>")


# Legalesign's document and signer status codes (model.py), as a person reads them.
_DOCUMENT_WORDS = {DOC_IN_PROGRESS: "Waiting for signers", DOC_FIELDS_DONE: "Fields filled in",
                   DOC_SIGNED: "Signed by everyone", DOC_REMOVED: "Cancelled by the sender",
                   DOC_REJECTED: "Rejected by a signer"}
_SIGNER_WORDS = {NOT_SENT: "waits for an earlier signer", SENT: "invited", EMAIL_OPENED: "opened the e-mail",
                 VISITED: "opened the document", SIGNED: "signed", REJECTED: "rejected"}


def _page(title: str, body: str, status: int = 200) -> Response:
    return html_page(title, _BANNER + body, status)


def _sms_step(phone: str, code: str) -> str:
    return (f"<p>Sandbox: the SMS code sent to {escape(phone)} would be <b>{escape(code)}</b>.</p>"
            "<form method='post'><input type='hidden' name='action' value='sms'>"
            "<label>SMS code <input name='code' inputmode='numeric' required></label> <button>Verify</button></form>")


def _finished(document, signer) -> str:
    """What the page says once the signer has nothing (more) to do."""
    if signer.status == SIGNED:
        if document.status == DOC_SIGNED:
            return "You have signed this document. Signed by everyone: the sender has the final PDF."
        if document.status == DOC_IN_PROGRESS:
            return "You have signed this document; waiting for the others to sign."
    if signer.status == REJECTED:
        return "You rejected this document; the sender sees your reason."
    if document.status == DOC_REJECTED:
        return "Another signer rejected this document: there is nothing to sign."
    if document.status == DOC_REMOVED:
        return "The sender cancelled this document: there is nothing to sign."
    if document.status == DOC_SIGNED:
        return "Signed by everyone: there is nothing to sign."
    return f"There is nothing to sign: the document is {_DOCUMENT_WORDS.get(document.status, 'closed').lower()}."


def _status(document) -> str:
    return status_words(_DOCUMENT_WORDS.get(document.status, "Unknown"), document.status)


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
                f"<li><b>{escape(d.name)}</b>: {_status(d)}<ul>"
                + "".join(f"<li><a href='/sandbox/sign/{escape(s.key)}'>{escape(s.email)}</a>: "
                          f"{status_words(_SIGNER_WORDS.get(s.status, 'unknown'), s.status)}</li>"
                          for s in d.signers)
                + "</ul></li>" for d in sim.documents.values())
        listing = items or "<li>None yet</li>"
        return _page("Legalsign sandbox", f"<h1>Legalesign sandbox</h1><ul>{listing}</ul>")

    def show(request: Request) -> Response:
        return signer_page(request.path_params["key"])

    def signer_page(key: str, error: str | None = None) -> Response:
        """The signer's page; with `error`, again after a form sent wrong (status 400), the error above the form."""
        status = 400 if error else 200
        with sim.lock:
            found = find(key)
            if found is None:
                return _page("Not found", "<p>This link is not valid.</p>", 404)
            document, signer = found
            head = (f"<h1>{escape(document.name)}</h1><p>Signer: {escape(signer.email)}</p>"
                    f"<p>Document: {_status(document)}</p>")
            if document.status != DOC_IN_PROGRESS or signer.status in (SIGNED, REJECTED):
                return _page(document.name, head + f"<p>{escape(_finished(document, signer))}</p>")
            if signer.status == NOT_SENT:
                return _page(document.name, head + "<p>Waiting for an earlier signer.</p>")
            try:
                sim.view(document.uuid, signer.email)
            except ValueError as refused:
                return _page(document.name, head + f"<p>{escape(str(refused))}</p>", 409)
            if signer.sms and not signer.sms_verified:
                return _page(document.name, head + error_note(error) + _sms_step(signer.sms, signer.sms_code),
                             status)
        return _page(document.name, head + error_note(error) + _ACTIONS, status)

    async def act(request: Request) -> Response:
        form = await read_form(request)
        with sim.lock:
            found = find(request.path_params["key"])
        if found is None:
            return _page("Not found", "<p>This link is not valid.</p>", 404)
        document, signer = found
        page = f"/sandbox/sign/{signer.key}"
        failure = await run_in_threadpool(perform_action, sim, document.uuid, signer.email, form,
                                          lambda error: signer_page(signer.key, error), page)
        return failure or RedirectResponse(page, status_code=303)

    def one_use(request: Request) -> Response:
        key = sim.use_link(request.path_params["token"])
        if key is None:
            return _page("Link used", "<p>This signing link is not valid or has been used already. Ask the sender "
                         "for a new one.</p>", 404)
        return RedirectResponse(f"/sandbox/sign/{key}", status_code=303)

    return [Route("/sandbox/", index, methods=["GET"]), Route("/sandbox/sign/{key}", show, methods=["GET"]),
            Route("/sandbox/esign/{token}", one_use, methods=["GET"]),
            Route("/sandbox/sign/{key}", act, methods=["POST"])]
