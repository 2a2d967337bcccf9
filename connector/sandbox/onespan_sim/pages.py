"""Signing pages of the simulated OneSpan Sign, with the SMS code step the sandbox shows."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from connector.sandbox.pages import html_page, perform_action, read_form

_STYLE = ".note{background:#fff6d5;padding:.5rem}"


def _html(title: str, body: str, status: int = 200) -> HTMLResponse:
    return html_page(title, body, status, _STYLE)




def page_routes(sim) -> list[Route]:
    def find(key: str):
        for package in sim.packages.values():
            if key in package.signing_keys:
                return package, next(r for r in package.signer_roles() if r["id"] == package.signing_keys[key])
        return None

    def index(_request: Request) -> Response:
        items = []
        with sim.lock:
            for package in sim.packages.values():
                emails = {r["id"]: r["signers"][0]["email"] for r in package.signer_roles()}
                links = "".join(f"<li><a href='/sandbox/sign/{key}'>{escape(emails[role])}</a></li>"
                                for key, role in package.signing_keys.items())
                items.append(f"<li><b>{escape(package.payload['name'])}</b> {package.status}<ul>{links}</ul></li>")
        listing = "".join(items) or "<li>None yet</li>"
        return _html("OneSpan sandbox", f"<h1>OneSpan Sign sandbox</h1><ul>{listing}</ul>")

    def page(request: Request) -> Response:
        with sim.lock:
            found = find(request.path_params["key"])
            if found is None:
                return _html("Not found", "<p>This signing link is not valid.</p>", 404)
            package, role = found
            message = escape(package.payload.get("emailMessage") or "")
            body = f"<h1>{escape(package.payload['name'])}</h1><p>{message}</p>"
            if package.status != "SENT":
                return _html("Finished", body + f"<p>This transaction is {package.status}.</p>")
            if package.role_signed(role["id"]):
                return _html("Signed", body + "<p>You have signed. Thank you.</p>")
            if role["id"] in package.sms_codes and role["id"] not in package.sms_verified:
                code = package.sms_codes[role["id"]]
                return _html("Verify", body + f"<p class='note'>Sandbox: the SMS code sent to "
                             f"{escape(role['signers'][0]['auth']['challenges'][0]['question'])} would be "
                             f"<b>{code}</b>.</p><form method='post'><input type='hidden' name='action' value='sms'>"
                             "<label>SMS code <input name='code' required></label> <button>Verify</button></form>")
        body += ("<form method='post'><input type='hidden' name='action' value='sign'><button>Sign</button></form>"
                 "<form method='post'><input type='hidden' name='action' value='decline'><label>Reason for "
                 "declining<br><textarea name='reason' required></textarea></label><br><button>Decline</button></form>")
        return _html(package.payload["name"], body)

    async def act(request: Request) -> Response:
        found = find(request.path_params["key"])
        if found is None:
            return _html("Not found", "<p>This signing link is not valid.</p>", 404)
        package, role = found
        failure = perform_action(sim, package.id, role["signers"][0]["email"], await read_form(request))
        return failure or RedirectResponse(f"/sandbox/sign/{request.path_params['key']}", status_code=303)

    return [Route("/sandbox/", index, methods=["GET"]), Route("/sandbox/sign/{key}", page, methods=["GET"]),
            Route("/sandbox/sign/{key}", act, methods=["POST"])]
