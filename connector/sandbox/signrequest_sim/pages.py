"""Browser pages: an index of requests, and each signer's signing page (sign or decline)."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from connector.sandbox.pages import perform_action, read_form
from connector.sandbox.signrequest_sim.state import required, waiting_for

_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:48rem;color:#1b1b1b}
li{margin:.3rem 0}.done{color:#176b2c}.no{color:#a00}textarea{width:100%}button{margin:.4rem 0}"""


def _html(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
                        f"<style>{_STYLE}</style></head><body>{body}</body></html>", status_code=status)


def page_routes(sim) -> list[Route]:
    def index(_request: Request) -> Response:
        items = []
        with sim.store.lock:
            for document in sim.store.documents.values():
                signers = "".join(
                    f"<li><a href='/sign/{s.key}'>{escape(s.first_name)} {escape(s.last_name)} "
                    f"&lt;{escape(s.email)}&gt;</a> — {_state(s)}</li>" for s in required(document))
                items.append(f"<li><b>{escape(document.name)}</b> status <code>{document.status}</code>"
                             f"<ul>{signers}</ul></li>")
        return _html("SignRequest sandbox", "<h1>SignRequest sandbox</h1><p>Open a signer's page to sign or "
                     f"decline. Signers sign in order.</p><ul>{''.join(items) or '<li>No requests yet.</li>'}</ul>"
                     "<script>setTimeout(()=>location.reload(),5000)</script>")

    def sign_page(request: Request) -> Response:
        found = sim.store.by_signer_key(request.path_params["key"])
        if found is None:
            return _html("Not found", "<p>This signing link is not valid.</p>", 404)
        document, signer = found
        if document.status in ("se", "ne", "vi") and not waiting_for(document, signer):
            sim.view(document.uuid, signer.email)
        others = "".join(f"<li>{escape(s.email)} — {_state(s)}</li>" for s in required(document))
        signrequest = document.signrequest or {}
        body = (f"<h1>{escape(document.name)}</h1><p>From {escape(signrequest.get('from_email') or '')}: "
                f"<b>{escape(signrequest.get('subject') or '')}</b></p><p>{escape(signrequest.get('message') or '')}"
                f"</p><p><a href='{sim.store.file_url(sim.public_url, document, 'original')}'>View the document</a>"
                f"</p><ul>{others}</ul>")
        earlier = waiting_for(document, signer)
        if document.status in ("si", "de", "ca", "xp"):
            body += f"<p>This request is finished (status <code>{document.status}</code>).</p>"
        elif signer.signed:
            body += "<p class='done'>You have signed. Thank you.</p>"
        elif earlier:
            body += f"<p>Waiting for {escape(earlier.email)} to sign first.</p>"
        elif signer.verify_phone_number and not signer.sms_verified:
            body += (f"<p style='background:#fff6d5'>Sandbox: the SMS code sent to {escape(signer.verify_phone_number)}"
                     f" would be <b>{signer.sms_code}</b>.</p><form method='post'><input type='hidden' name='action' "
                     "value='sms'><label>SMS code <input name='code' required></label> <button>Verify</button></form>")
        else:
            body += (f"<form method='post'><input type='hidden' name='action' value='sign'>"
                     f"<label>Type your full name to sign: <input name='full_name' required "
                     f"value='{escape(signer.first_name)} {escape(signer.last_name)}'></label><br>"
                     "<button>Sign</button></form><form method='post'><input type='hidden' name='action' "
                     "value='decline'><label>Reason for declining<br><textarea name='reason' required></textarea>"
                     "</label><br><button>Decline</button></form>")
        return _html(document.name, body)

    async def act(request: Request) -> Response:
        found = sim.store.by_signer_key(request.path_params["key"])
        if found is None:
            return _html("Not found", "<p>This signing link is not valid.</p>", 404)
        document, signer = found
        failure = perform_action(sim, document.uuid, signer.email, await read_form(request))
        return failure or RedirectResponse(f"/sign/{signer.key}", status_code=303)

    return [Route("/", index, methods=["GET"]), Route("/sign/{key}", sign_page, methods=["GET"]),
            Route("/sign/{key}", act, methods=["POST"])]


def _state(signer) -> str:
    if signer.signed:
        return "<span class='done'>signed</span>"
    if signer.declined:
        return "<span class='no'>declined</span>"
    return "viewed" if signer.viewed else "waiting"
