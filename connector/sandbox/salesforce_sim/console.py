"""The sandbox console: a plain HTML page to watch opportunities and move them between stages."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from connector.sandbox.salesforce_sim.records import format_datetime
from connector.sandbox.salesforce_sim.schema import STAGES

_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%;margin-bottom:2rem}td,th{border:1px solid #ccc;padding:.4rem;
vertical-align:top;text-align:left}th{background:#f3f3f3}.status{font-weight:bold}.err{color:#a00}
form{display:inline}small{color:#555}"""


def _value(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "astimezone"):
        return format_datetime(value)
    return str(value)


def console_routes(simulator) -> list[Route]:
    def page(_request: Request) -> Response:
        rows = []
        with simulator.org.lock:
            opportunities = sorted(simulator.records("Opportunity"), key=lambda o: o["Name"])
            for opp in opportunities:
                options = "".join(f"<option{' selected' if s == opp['StageName'] else ''}>{escape(s)}</option>"
                                  for s in STAGES)
                files = "".join(
                    f"<li><a href='/sandbox/files/{f['version_id']}'>{escape(f['title'])}</a> "
                    f"<small>{len(f['content']):,} bytes</small></li>" for f in simulator.files_on(opp["Id"]))
                tasks = "".join(f"<li>{escape(t['Subject'] or '')}<br><small>{escape(t['Description'] or '')}"
                                f"</small></li>" for t in simulator.tasks_on(opp["Id"]))
                roles = "".join(
                    f"<li>{escape(r['Role'] or '')}: {escape(c.get('Name', ''))} "
                    f"&lt;{escape(c.get('Email') or 'no email')}&gt;</li>"
                    for r in simulator.records("OpportunityContactRole") if r["OpportunityId"] == opp["Id"]
                    for c in [simulator.get_record("Contact", r["ContactId"]) or {}])
                rows.append(f"""<tr><td><b>{escape(opp['Name'])}</b><br><small>{opp['Id']}</small>
<ul>{roles}</ul></td>
<td><form method="post" action="/sandbox/opportunities/{opp['Id']}/stage"><select name="stage">{options}</select>
<button>Move</button></form></td>
<td class="status">{escape(_value(opp.get('Signing_Status__c')))}<br>
<small>request {escape(_value(opp.get('Signing_Request_Id__c')))}<br>sent {_value(opp.get('Signing_Sent_At__c'))}
<br>completed {_value(opp.get('Signing_Completed_At__c'))}</small>
<div class="err">{escape(_value(opp.get('Signing_Last_Error__c')))}</div></td>
<td><ul>{files}</ul></td><td><ul>{tasks}</ul></td></tr>""")
        body = f"""<!doctype html><html><head><meta charset="utf-8"><title>Sandbox org</title>
<meta http-equiv="refresh" content="5"><style>{_STYLE}</style></head><body>
<h1>Sandbox Salesforce org</h1>
<p>Move an opportunity to <b>Contract Sent</b> (SignRequest), <b>Proposal</b> (OneSpan Sign, with SMS for the
decision maker and the owner countersigning) or <b>Negotiation</b> (Legalsign, two signers in order); the connector
sends its quote for signature within seconds. <b>Closed Lost</b> cancels a pending OneSpan or Legalsign request.
This page refreshes every 5 seconds. API calls so far: {simulator.total_api_calls}.</p>
<table><tr><th>Opportunity and contact roles</th><th>Stage</th><th>Signing status</th><th>Files</th>
<th>Activity</th></tr>{''.join(rows)}</table></body></html>"""
        return HTMLResponse(body)

    async def move(request: Request) -> Response:
        form = (await request.body()).decode()
        from urllib.parse import parse_qs

        stage = parse_qs(form).get("stage", [""])[0]
        if stage not in STAGES:
            return HTMLResponse(f"Unknown stage {escape(stage)}", status_code=400)
        simulator.set_stage(request.path_params["opportunity_id"], stage)
        return RedirectResponse("/sandbox/", status_code=303)

    def download(request: Request) -> Response:
        version_id = request.path_params["version_id"]
        content = simulator.org.blobs.get(version_id)
        if content is None:
            return HTMLResponse("No such file", status_code=404)
        version = simulator.get_record("ContentVersion", version_id)
        media = "application/pdf" if content.startswith(b"%PDF") else "application/octet-stream"
        name = version["PathOnClient"].replace('"', "")
        return Response(content, media_type=media, headers={"Content-Disposition": f'inline; filename="{name}"'})

    return [
        Route("/sandbox/", page, methods=["GET"]),
        Route("/sandbox/opportunities/{opportunity_id}/stage", move, methods=["POST"]),
        Route("/sandbox/files/{version_id}", download, methods=["GET"]),
    ]
