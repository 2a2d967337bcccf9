"""The sandbox console: a plain HTML page to watch opportunities and move them between stages.

Its routes act as a user in the Salesforce UI, so they are not API calls and are not counted.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from connector.sandbox.salesforce_sim.errors import SfError
from connector.sandbox.salesforce_sim.schema import STAGES
from connector.sandbox.salesforce_sim.values import format_datetime

if TYPE_CHECKING:
    from connector.sandbox.salesforce_sim import SalesforceSimulator

_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:75rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%;margin-bottom:2rem}td,th{border:1px solid #ccc;padding:.4rem;
vertical-align:top;text-align:left}th{background:#f3f3f3}ul{margin:.2rem 0;padding-left:1.1rem}
.status{font-weight:bold}.err{color:#a00}form{display:inline}small{color:#555}"""


def _text(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "astimezone"):
        return escape(format_datetime(value))
    return escape(str(value))


def _roles(sim: SalesforceSimulator, opportunity_id: str) -> str:
    items = []
    for role in sim.records("OpportunityContactRole"):
        if role["OpportunityId"] != opportunity_id:
            continue
        contact = sim.get_record("Contact", role["ContactId"]) or {}
        primary = " (primary)" if role["IsPrimary"] else ""
        items.append(f"<li>{_text(role['Role'] or 'No role')}{primary}: {_text(contact.get('Name'))} "
                     f"&lt;{_text(contact.get('Email') or 'no email')}&gt;</li>")
    return "".join(items)


def _row(sim: SalesforceSimulator, opp: dict) -> str:
    options = "".join(f"<option{' selected' if s == opp['StageName'] else ''}>{escape(s)}</option>"
                      for s in STAGES)
    files = "".join(f"<li><a href='/sandbox/files/{escape(f['version_id'])}'>{_text(f['title'])}</a> "
                    f"<small>{_text(f['filename'])}, {len(f['content']):,} bytes</small></li>"
                    for f in sim.files_on(opp["Id"]))
    tasks = "".join(f"<li>{_text(t['Subject'])} <small>({_text(t['Status'])})</small><br>"
                    f"<small>{_text(t['Description'])}</small></li>" for t in sim.tasks_on(opp["Id"]))
    action = f"/sandbox/opportunities/{escape(opp['Id'])}/stage"
    return f"""<tr><td><b>{_text(opp['Name'])}</b><br><small>{_text(opp['Id'])}</small>
<ul>{_roles(sim, opp['Id'])}</ul></td>
<td><form method="post" action="{action}"><select name="stage">{options}</select>
<button>Move</button></form></td>
<td class="status">{_text(opp.get('Signing_Status__c'))}<br>
<small>request {_text(opp.get('Signing_Request_Id__c'))}<br>sent {_text(opp.get('Signing_Sent_At__c'))}
<br>completed {_text(opp.get('Signing_Completed_At__c'))}</small>
<div class="err">{_text(opp.get('Signing_Last_Error__c'))}</div></td>
<td><ul>{files}</ul></td><td><ul>{tasks}</ul></td></tr>"""


def console_routes(sim: SalesforceSimulator) -> list[BaseRoute]:
    def page(_request: Request) -> Response:
        with sim.org.lock:
            opportunities = sorted(sim.records("Opportunity"), key=lambda o: o["Name"])
            rows = "".join(_row(sim, opp) for opp in opportunities)
        return HTMLResponse(f"""<!doctype html><html><head><meta charset="utf-8"><title>Sandbox org</title>
<meta http-equiv="refresh" content="5"><style>{_STYLE}</style></head><body>
<h1>Sandbox Salesforce org</h1>
<p>Move an opportunity to <b>Contract Sent</b> (SignRequest), <b>Proposal</b> (OneSpan Sign, with SMS for
the decision maker and the owner countersigning) or <b>Negotiation</b> (Legalsign, two signers in order); the
connector sends its quote for signature within seconds. <b>Closed Lost</b> cancels a pending OneSpan or
Legalsign request. <b>Verbal Commitment</b> sends two requests with SignRequest: an order form the connector
fills in from a PDF template (new-business deals of 10,000 or more only) and the terms and conditions.
This page refreshes every 5 seconds. API calls so far: {sim.total_api_calls:,}.</p>
<table><tr><th>Opportunity and contact roles</th><th>Stage</th><th>Signing status</th><th>Files</th>
<th>Activity</th></tr>{rows}</table></body></html>""")

    async def move(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        stage = form.get("stage", [""])[0]
        if stage not in STAGES:
            return HTMLResponse(f"Unknown stage {escape(stage)}", status_code=400)
        try:
            sim.set_stage(request.path_params["opportunity_id"], stage)
        except SfError as exc:
            return HTMLResponse(f"Cannot move this opportunity: {escape(exc.message)}",
                                status_code=404 if exc.status == 404 else 400)
        return RedirectResponse("/sandbox/", status_code=303)

    def download(request: Request) -> Response:
        version = sim.get_record("ContentVersion", request.path_params["version_id"])
        if version is None or version["IsDeleted"]:
            return HTMLResponse("No such file", status_code=404)
        content = sim.org.blobs[version["Id"]]
        media = "application/pdf" if content.startswith(b"%PDF-") else "application/octet-stream"
        name = "".join(c for c in version["PathOnClient"] if c.isprintable() and c not in '"\\')
        disposition = f'inline; filename="{name}"'
        return Response(content, media_type=media, headers={"Content-Disposition": disposition})

    return [
        Route("/sandbox/", page, methods=["GET"]),
        Route("/sandbox/opportunities/{opportunity_id}/stage", move, methods=["POST"]),
        Route("/sandbox/files/{version_id}", download, methods=["GET"]),
    ]
