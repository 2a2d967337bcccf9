"""Browser pages: an index of documents, and each signer's signing page (SMS code, sign, decline)."""

from __future__ import annotations

from contextlib import suppress
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.pages import error_note, html_page, perform_action, read_form, refused_page, status_words
from sandbox.signrequest_sim.signing import FINISHED_WORDS, ActionRefused
from sandbox.signrequest_sim.state import AWAITING_SIGNERS, Document, Signer

_STYLE = "li{margin:.3rem 0}.done{color:#176b2c}.no{color:#a00}textarea{width:100%}button{margin:.4rem 0}" \
         ".note{background:#fff6d5;padding:.5rem}"
_NOT_FOUND = "<p>This signing link is not valid.</p>"
# SignRequest's document status codes (reference §4.1), as a person reads them.
_STATUS_WORDS = {"co": "Being converted", "ne": "Not sent yet", "se": "Waiting for signers",
                 "vi": "Opened, waiting for signers", "si": "Signed by everyone", "do": "Signed by everyone",
                 "sd": "Signed by everyone", "ca": "Cancelled by the sender", "de": "Declined by a signer",
                 "ec": "Could not be converted", "es": "Could not be sent", "xp": "Expired"}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return html_page(title, body, status, _STYLE)


def _state(signer: Signer) -> str:
    if signer.signed:
        return "<span class='done'>signed</span>"
    if signer.declined:
        return "<span class='no'>declined</span>"
    if not signer.needs_to_sign:
        return "receives a copy"
    return "viewed, not signed yet" if signer.viewed else "not signed yet"


def _action(name: str) -> str:
    return f"<input type='hidden' name='action' value='{name}'>"


def _status(document: Document) -> str:
    return status_words(_STATUS_WORDS.get(document.status, "Unknown"), document.status)


def _name(signer: Signer) -> str:
    return escape(f"{signer.full_name} <{signer.email}>" if signer.full_name else signer.email)


def page_routes(sim) -> list[Route]:
    store = sim.store

    def link(document: Document, kind: str, label: str) -> str:
        return f"<a href='{escape(sim.serializer.base + store.file_link(document, kind))}'>{label}</a>"

    def index(_request: Request) -> Response:
        sim.run_due()
        items = []
        with store.lock:
            for document in reversed(store.documents.values()):
                signers = "".join(f"<li><a href='/sign/{escape(s.key)}'>{_name(s)}</a> (order {s.order}) — "
                                  f"{_state(s)}</li>" for s in document.signers)
                items.append(f"<li><b>{escape(document.name)}</b> — {_status(document)}, "
                             f"external id <code>{escape(document.external_id or '-')}</code>"
                             f"<ul>{signers}</ul></li>")
        return _page("SignRequest sandbox", "<h1>SignRequest sandbox</h1><p>Open a signer's page to sign or "
                     "decline. Signers with a higher order sign after the lower orders.</p>"
                     f"<ul>{''.join(items) or '<li>No documents yet.</li>'}</ul>")

    def next_step(document: Document, signer: Signer, error: str | None) -> str:
        if document.status in FINISHED_WORDS:
            if FINISHED_WORDS[document.status] != "signed":
                return f"<p>This request is {FINISHED_WORDS[document.status]}: there is nothing to sign.</p>"
            mine = "You have signed this document. " if signer.signed else ""
            files = f" {link(document, 'pdf', 'Download the signed PDF')}" if document.status == "si" else ""
            return f"<p class='done'>{mine}Signed by everyone.{files}</p>"
        if document.status not in AWAITING_SIGNERS:
            return "<p>This document has not been sent for signing.</p>"
        if not signer.needs_to_sign:
            return "<p>You receive a copy once everyone has signed; nothing to do.</p>"
        earlier = document.waiting_for(signer)
        if earlier:
            return f"<p>You are waiting for {escape(earlier.email)} to sign first.</p>"
        if signer.signed:
            return "<p class='done'>You have signed this document; waiting for the others to sign.</p>"
        if signer.verify_phone_number and not signer.sms_verified:
            return (f"<p class='note'>Sandbox: the SMS code texted to {escape(signer.verify_phone_number)} "
                    f"would be <b>{signer.sms_code}</b>.</p>{error_note(error)}<form method='post'>{_action('sms')}"
                    "<label>SMS code <input name='code' inputmode='numeric' required></label> "
                    "<button>Verify</button></form>")
        return (f"{error_note(error)}<form method='post'>{_action('sign')}<label>Type your full name to sign: "
                f"<input name='full_name' required value='{escape(signer.full_name)}'></label><br>"
                f"<button>Sign</button></form><form method='post'>{_action('decline')}"
                "<label>Reason for declining<br><textarea name='reason' required></textarea></label><br>"
                "<button>Decline</button></form>")

    def sign_page(request: Request) -> Response:
        return signer_page(request.path_params["key"])

    def signer_page(key: str, error: str | None = None) -> Response:
        """The signer's page; with `error`, again after a form sent wrong (status 400), the error above the form."""
        sim.run_due()
        found = store.by_signer_key(key)
        if found is None:
            return _page("Not found", _NOT_FOUND, 404)
        document, signer = found
        if document.status in AWAITING_SIGNERS and document.has_turn(signer) and not signer.viewed:
            with suppress(ActionRefused):  # the state may change under us; the page shows what it is
                sim.view(document.uuid, signer.email)  # opening the page is viewing the document
        with store.lock:
            fields = document.signrequest.fields if document.signrequest else {}
            signers = "".join(f"<li>{_name(s)} — {_state(s)}</li>" for s in document.signers)
            body = (f"<h1>{escape(document.name)}</h1><p>From {escape(fields.get('from_email', ''))}: "
                    f"<b>{escape(fields.get('subject') or '')}</b></p>"
                    f"<p>{escape(fields.get('message') or '')}</p>"
                    f"<p>{link(document, 'file', 'View the document (PDF)')}</p><p>Status: {_status(document)}</p>"
                    f"<h2>Signers</h2><ul>{signers}</ul>{next_step(document, signer, error)}")
        return _page(document.name, body, 400 if error else 200)

    async def act(request: Request) -> Response:
        found = store.by_signer_key(request.path_params["key"])
        if found is None:
            return _page("Not found", _NOT_FOUND, 404)
        document, signer = found
        form = await read_form(request)
        page = f"/sign/{signer.key}"
        if form.get("action") == "sign":
            if not form.get("full_name", "").strip():
                return signer_page(signer.key, "Type your full name to sign.")
            try:
                sim.sign(document.uuid, signer.email, full_name=form.get("full_name", ""))
            except ActionRefused as refused:
                return refused_page(str(refused), page)
        else:
            failure = perform_action(sim, document.uuid, signer.email, form,
                                     lambda error: signer_page(signer.key, error), page)
            if failure is not None:
                return failure
        if form.get("action") == "sms":
            return RedirectResponse(page, status_code=303)
        return result(document, signer)

    def result(document: Document, signer: Signer) -> Response:
        fields = document.signrequest.fields if document.signrequest else {}
        if signer.declined:
            body = (f"<p class='no'>You declined {escape(document.name)}. The sender sees your reason: "
                    f"<q>{escape(signer.message or '')}</q></p>")
            onward = signer.options.get("redirect_url_declined") or fields.get("redirect_url_declined")
        else:
            body = f"<p class='done'>You have signed {escape(document.name)}. Thank you.</p>"
            if document.status == "si":
                body += "<p>Signed by everyone; all parties get the signed PDF.</p>"
            else:
                body += "<p>Waiting for the others to sign.</p>"
            onward = signer.options.get("redirect_url") or fields.get("redirect_url")
        if onward:
            body += f"<p><a href='{escape(onward)}'>Continue</a></p>"
        return _page(document.name, body)

    return [Route("/", index, methods=["GET"]), Route("/sign/{key}", sign_page, methods=["GET"]),
            Route("/sign/{key}", act, methods=["POST"])]
