"""What the simulators' signing pages share: the page frame and the signer's form actions.

The simulators name their signer actions alike (enter_sms_code, sign, decline), so one handler
serves all three signing pages.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse

BASE_STYLE = "body{font-family:system-ui,sans-serif;margin:2rem;max-width:48rem;color:#1b1b1b}"


def html_page(title: str, body: str, status: int = 200, style: str = "") -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
                        f"<style>{BASE_STYLE}{style}</style></head><body>{body}</body></html>", status_code=status)


async def read_form(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}


def perform_action(sim, request_id: str, email: str, form: dict[str, str]) -> HTMLResponse | None:
    """Run the signer's form action; an error page, or None when it worked."""
    action = form.get("action")
    try:
        if action == "sms":
            if not sim.enter_sms_code(request_id, email, form.get("code", "")):
                return html_page("Wrong code", "<p>That code is not right. Go back and try again.</p>", 400)
        elif action == "sign":
            sim.sign(request_id, email)
        elif action in ("decline", "reject") and form.get("reason", "").strip():
            sim.decline(request_id, email, form["reason"].strip())
        else:
            return html_page("Missing", "<p>Choose sign, or decline with a reason.</p>", 400)
    except ValueError as refused:  # each simulator's ActionRefused
        return html_page("Refused", f"<p>{escape(str(refused))}</p>", 409)
    return None
