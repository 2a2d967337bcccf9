"""Signing pages of the simulated OneSpan Sign: SMS code step, the documents, sign, decline with a reason."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.onespan_sim.documents import current_pdf
from sandbox.pages import error_note, html_page, perform_action, read_form, status_words

_STYLE = ".note{background:#fff6d5;padding:.5rem}form{margin:1rem 0}"
_NOT_FOUND = "<p>This signing link is not valid.</p>"
# OneSpan's package statuses, as a person reads them.
_STATUS_WORDS = {"DRAFT": "Draft, not sent yet", "SENT": "Waiting for signers", "COMPLETED": "Signed by everyone",
                 "ARCHIVED": "Archived", "DECLINED": "Declined by a signer", "OPTED_OUT": "A signer opted out",
                 "EXPIRED": "Expired"}


def _status(package) -> str:
    if package.trashed:
        return status_words("In the trash", "trashed")
    return status_words(_STATUS_WORDS.get(package.status, package.status.replace("_", " ").capitalize()),
                        package.status)


def _html(title: str, body: str, status: int = 200) -> HTMLResponse:
    return html_page(title, body, status, _STYLE)


def _sms_step(role: dict, code: str) -> str:
    phone = role["signers"][0]["auth"]["challenges"][0]["question"]
    return (f"<p class='note'>Sandbox: the SMS code sent to {escape(phone)} would be "
            f"<b>{escape(code)}</b>.</p><form method='post'><input type='hidden' name='action' value='sms'>"
            "<label>SMS code <input name='code' inputmode='numeric' required></label> "
            "<button>Verify</button></form>")


def _ceremony(key: str, package, role: dict) -> str:
    documents = "".join(f"<li><a href='/sandbox/sign/{escape(key)}/documents/{escape(d['id'])}'>"
                        f"{escape(d['name'])}</a></li>" for d in package.documents())
    reasons = package.payload.get("settings", {}).get("ceremony", {}).get("declineReasons") or []
    options = "".join(f"<option value='{escape(str(r))}'>" for r in reasons)
    return (f"<ul>{documents}</ul>"
            "<form method='post'><input type='hidden' name='action' value='sign'><button>Sign</button></form>"
            "<form method='post'><input type='hidden' name='action' value='decline'>"
            f"<label>Reason for declining<br><input name='reason' list='reasons' size='50' required></label>"
            f"<datalist id='reasons'>{options}</datalist> <button>Decline</button></form>")


def page_routes(sim) -> list[Route]:
    def index(_request: Request) -> Response:
        items = []
        with sim.lock:
            for package in sim.packages.values():
                emails = {r["id"]: r["signers"][0]["email"] for r in package.signer_roles()}
                links = "".join(f"<li><a href='/sandbox/sign/{escape(key)}'>{escape(emails[role])}</a></li>"
                                for key, role in package.signing_keys.items())
                items.append(f"<li><b>{escape(package.payload['name'])}</b>: {_status(package)}<ul>{links}</ul></li>")
        listing = "".join(items) or "<li>None yet</li>"
        return _html("OneSpan sandbox", f"<h1>OneSpan Sign sandbox</h1><ul>{listing}</ul>")

    def page(request: Request) -> Response:
        return signer_page(request.path_params["key"])

    def signer_page(key: str, error: str | None = None) -> Response:
        """The signer's page; with `error`, again after a form sent wrong (status 400), the error above the form."""
        status = 400 if error else 200
        with sim.lock:
            found = sim.page_target(key)
            if found is None:
                return _html("Not found", _NOT_FOUND, 404)
            package, role = found
            package = sim.get(package.id)  # applies a due expiry
            signer = role["signers"][0]
            body = (f"<h1>{escape(package.payload['name'])}</h1>"
                    f"<p>{escape(package.payload.get('emailMessage') or '')}</p>"
                    f"<p>Signing as {escape(signer['firstName'])} {escape(signer['lastName'])} "
                    f"&lt;{escape(signer['email'])}&gt;</p><p>Transaction: {_status(package)}</p>")
            if package.status == "COMPLETED" and package.role_signed(role["id"]):
                return _html("Signed", body + "<p>You have signed. Signed by everyone: the sender has the signed "
                             "documents.</p>")
            if not package.open_for_signing:
                return _html("Finished", body + "<p>There is nothing to sign.</p>")
            if package.role_signed(role["id"]):
                return _html("Signed", body + "<p>You have signed; waiting for the others to sign.</p>")
            earlier = package.waiting_for(role)
            if earlier:
                return _html("Not yet", body + f"<p>Waiting for {escape(earlier['signers'][0]['email'])} "
                             "to sign first.</p>")
            if sim.needs_sms(package, role):
                return _html("Verify", body + error_note(error) + _sms_step(role, package.sms_codes[role["id"]]),
                             status)
            consent = package.consent_approval(role["id"])
            if consent is not None and not consent.get("accepted"):
                sim.view(package.id, signer["email"])  # opening the ceremony accepts the consent
            return _html(package.payload["name"], body + error_note(error) + _ceremony(key, package, role), status)

    def document(request: Request) -> Response:
        with sim.lock:
            found = sim.page_target(request.path_params["key"])
            if found is None:
                return _html("Not found", _NOT_FOUND, 404)
            package, _role = found
            doc = next((d for d in package.documents() if d["id"] == request.path_params["doc"]), None)
            if doc is None:
                return _html("Not found", "<p>No such document.</p>", 404)
            return Response(current_pdf(package, doc["id"]), media_type="application/pdf")

    async def act(request: Request) -> Response:
        key = request.path_params["key"]
        found = sim.page_target(key)
        if found is None:
            return _html("Not found", _NOT_FOUND, 404)
        package, role = found
        page_url = f"/sandbox/sign/{key}"
        failure = perform_action(sim, package.id, role["signers"][0]["email"], await read_form(request),
                                 lambda error: signer_page(key, error), page_url)
        return failure or RedirectResponse(page_url, status_code=303)

    return [Route("/sandbox/", index, methods=["GET"]), Route("/sandbox/sign/{key}", page, methods=["GET"]),
            Route("/sandbox/sign/{key}", act, methods=["POST"]),
            Route("/sandbox/sign/{key}/documents/{doc}", document, methods=["GET"])]
