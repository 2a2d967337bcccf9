"""What the simulators' signing pages share: the page frame, the signer's form actions, status words.

The simulators name their signer actions alike (enter_sms_code, sign, decline), so one handler
serves all three signing pages. A form sent wrong (a wrong SMS code, a decline without a reason) shows
the signer's page again with the error above its form, so the signer can try again from there.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse

BASE_STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:48rem;color:#1b1b1b}"
              ".error{color:#a00;font-weight:bold;border-left:4px solid #a00;padding-left:.5rem}"
              "small.code{color:#666}")
WRONG_CODE = "That code is not right. Enter the 6-digit code from the SMS (shown above in the sandbox) and try again."
NO_REASON = "To decline, give a reason; the sender sees it."

# What a page shows when a form was sent wrong: the signer's page again, with `message` above the form.
ShowAgain = Callable[[str], HTMLResponse]


def html_page(title: str, body: str, status: int = 200, style: str = "") -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
                        f"<style>{BASE_STYLE}{style}</style></head><body>{body}</body></html>", status_code=status)


def error_note(message: str | None) -> str:
    """The error above a form, or nothing."""
    return f"<p class='error' role='alert'>{escape(message)}</p>" if message else ""


def status_words(words: str, code: object) -> str:
    """A provider status as words, with the provider's own code small in brackets: Waiting for signers (se)."""
    return f"{escape(words)} <small class='code'>({escape(str(code))})</small>"


async def read_form(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}


def perform_action(sim, request_id: str, email: str, form: dict[str, str], again: ShowAgain,
                   back: str) -> HTMLResponse | None:
    """Run the signer's form action: None when it worked; else the page again with the error (400), or, when
    the provider refuses the action in the request's state, a page saying why with a link `back` (409)."""
    action = form.get("action")
    try:
        if action == "sms":
            if not sim.enter_sms_code(request_id, email, form.get("code", "").strip()):
                return again(WRONG_CODE)
        elif action == "sign":
            sim.sign(request_id, email)
        elif action in ("decline", "reject"):
            if not form.get("reason", "").strip():
                return again(NO_REASON)
            sim.decline(request_id, email, form["reason"].strip())
        else:
            return again("Choose sign, or decline with a reason.")
    except ValueError as refused:  # each simulator's ActionRefused
        return refused_page(str(refused), back)
    return None


def refused_page(reason: str, back: str) -> HTMLResponse:
    return html_page("Refused", f"<p class='error'>{escape(reason)}</p><p><a href='{escape(back)}'>Back to the "
                     "signing page</a></p>", 409)
