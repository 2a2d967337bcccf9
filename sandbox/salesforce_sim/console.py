"""The sandbox console: a plain HTML page to watch opportunities and move them between stages.

Its routes act as a user in the Salesforce UI, so they are not API calls and are not counted.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.salesforce_sim.errors import SfError
from sandbox.salesforce_sim.schema import STAGES

if TYPE_CHECKING:
    from sandbox.salesforce_sim import SalesforceSimulator

_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%;margin-bottom:2rem}td,th{border:1px solid #ccc;padding:.4rem;
vertical-align:top;text-align:left}th{background:#f3f3f3}ul{margin:.2rem 0;padding-left:1.1rem}
.status{font-weight:bold}.err{color:#a00}form{display:inline}small{color:#555}.facts{color:#333;margin:.2rem 0}
#paused{color:#a05a00}"""

# The 5 s refresh reloads the page only while no stage is picked and not yet moved: a select whose value
# differs from the deal's stage (data-stage), or one that has the focus (its list may be open), pauses it.
# Without scripts, the <noscript> refresh in the head does the reloading.
_REFRESH = """<script>
(function () {
  function picking() {
    return Array.prototype.some.call(document.querySelectorAll("select[data-stage]"), function (select) {
      return select === document.activeElement || select.value !== select.getAttribute("data-stage");
    });
  }
  setInterval(function () {
    var paused = picking();
    document.getElementById("paused").textContent = paused
      ? " Paused while a stage is picked but not moved: press Move, or pick the deal's own stage again." : "";
    if (!paused) { window.location.reload(); }
  }, 5000);
})();
</script>"""

# The connector's Task subjects end with "(<provider> <request id>)": "Sent for signature: Quote Q-1 (SignRequest
# 3f2...)", "Signed: ...", "Signature declined: ...", "Signature expired: ...".
_TASK_SUBJECT = re.compile(r"^(?P<event>[^:]+): (?P<documents>.*) \((?P<provider>[^()]+) (?P<request>[^ ()]+)\)$")
_REQUEST_STATES = {"Sent for signature": "Sent, waiting for the signers", "Signed": "Completed, everyone signed",
                   "Signature declined": "Declined"}


def _when(value: datetime) -> str:
    """A date-time as a person reads it: 4 Dec 2026, 16:25:50 UTC."""
    value = value.astimezone(UTC)
    return f"{value.day} {value:%b %Y, %H:%M:%S} UTC"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return escape(_when(value))
    return escape(str(value))


def _facts(sim: SalesforceSimulator, opp: dict) -> str:
    """What the rules' filters read (record type, amount) and the close date."""
    record_type = sim.get_record("RecordType", opp["RecordTypeId"]) if opp.get("RecordTypeId") else None
    kind = (f"{_text(record_type['Name'])} <small>({_text(record_type['DeveloperName'])})</small>"
            if record_type else "none")
    amount = f"{opp['Amount']:,.2f}" if isinstance(opp.get("Amount"), int | float) else "none"
    close = date.fromisoformat(opp["CloseDate"]) if opp.get("CloseDate") else None
    closes = f"{close.day} {close:%b %Y}" if close else "none"
    return (f"<div class='facts'>Record type: {kind}<br>Amount: {escape(amount)}<br>"
            f"Close date: {escape(closes)}</div>")


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


def _requests(tasks: list[dict]) -> str:
    """One line per signing request the connector logged on the deal, in the order sent, with its latest state
    (two rules on one stage send two requests; the status fields hold only the last write)."""
    requests: dict[str, tuple[str, str, str]] = {}
    for task in tasks:
        found = _TASK_SUBJECT.match(task["Subject"] or "")
        if found is None:
            continue
        event = found["event"]
        state = _REQUEST_STATES.get(event) or event.removeprefix("Signature ").capitalize()
        documents = requests.get(found["request"], (found["documents"],))[0]
        requests[found["request"]] = (documents, f"{found['provider']} {found['request']}", state)
    return "".join(f"<li>{_text(documents)}: <b>{_text(state)}</b><br><small>{_text(where)}</small></li>"
                   for documents, where, state in requests.values())


def _signing_fields(opp: dict) -> str:
    """The signing fields that hold a value, one a line."""
    shown = [f"{label} {_text(opp.get(field))}" for label, field in (
        ("request", "Signing_Request_Id__c"), ("sent", "Signing_Sent_At__c"),
        ("completed", "Signing_Completed_At__c")) if opp.get(field) is not None]
    return f"<br><small>{'<br>'.join(shown)}</small>" if shown else ""


def _row(sim: SalesforceSimulator, opp: dict) -> str:
    stage = opp["StageName"]
    options = "".join(f"<option{' selected' if s == stage else ''}>{escape(s)}</option>" for s in STAGES)
    files = "".join(f"<li><a href='/sandbox/files/{escape(f['version_id'])}'>{_text(f['title'])}</a> "
                    f"<small>{_text(f['filename'])}, {len(f['content']):,} bytes</small></li>"
                    for f in sim.files_on(opp["Id"]))
    tasks = sim.tasks_on(opp["Id"])
    activity = "".join(f"<li>{_text(t['Subject'])} <small>({_text(t['Status'])}, {_text(t['CreatedDate'])})"
                       f"</small><br><small>{_text(t['Description'])}</small></li>" for t in tasks)
    requests = _requests(tasks)
    action = f"/sandbox/opportunities/{escape(opp['Id'])}/stage"
    return f"""<tr id="{escape(opp['Id'])}"><td><b>{_text(opp['Name'])}</b><br><small>{_text(opp['Id'])}</small>
{_facts(sim, opp)}<ul>{_roles(sim, opp['Id'])}</ul></td>
<td><form method="post" action="{action}" autocomplete="off">
<select name="stage" data-stage="{escape(stage)}">{options}</select> <button>Move</button></form></td>
<td>{f"<ul>{requests}</ul>" if requests else ""}
<span class="status">{_text(opp.get('Signing_Status__c'))}</span>{_signing_fields(opp)}
<div class="err">{_text(opp.get('Signing_Last_Error__c'))}</div></td>
<td><ul>{files}</ul></td><td><ul>{activity}</ul></td></tr>"""


def console_routes(sim: SalesforceSimulator) -> list[BaseRoute]:
    def page(_request: Request) -> Response:
        with sim.org.lock:
            opportunities = sorted(sim.records("Opportunity"), key=lambda o: o["Name"])
            rows = "".join(_row(sim, opp) for opp in opportunities)
        return HTMLResponse(f"""<!doctype html><html><head><meta charset="utf-8"><title>Sandbox org</title>
<noscript><meta http-equiv="refresh" content="5"></noscript><style>{_STYLE}</style></head><body>
<h1>Sandbox Salesforce org</h1>
<p>Move an opportunity to <b>Contract Sent</b> (SignRequest, the decision maker with an SMS code then the
economic buyer), <b>Proposal</b> (OneSpan Sign, with an SMS code for the decision maker and the owner
countersigning) or <b>Negotiation</b> (Legalsign, the decision maker with an SMS code then the economic buyer);
the connector sends its quote for signature within seconds. <b>Verbal Commitment</b> sends two requests with
SignRequest: an order form the connector fills in from a PDF template (<code>New_Business</code> deals of
10,000 or more only) and the terms and conditions. <b>Closed Lost</b> cancels a pending request.</p>
<p>The signing column lists each request the connector logged (one line per request; two rules on one stage
send two), then the opportunity's signing fields, which hold the last write. This page refreshes every 5
seconds.<span id="paused"></span> API calls so far: {sim.total_api_calls:,}.</p>
<table><tr><th>Opportunity and contact roles</th><th>Stage</th><th>Signing</th><th>Files</th>
<th>Activity</th></tr>{rows}</table>{_REFRESH}</body></html>""")

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

    def record(request: Request) -> Response:  # a Lightning record link, as the admin page makes them
        return RedirectResponse(f"/sandbox/#{request.path_params['record_id']}", status_code=303)

    return [
        Route("/lightning/r/{object_name}/{record_id}/view", record, methods=["GET"]),
        Route("/sandbox/", page, methods=["GET"]),
        Route("/sandbox/opportunities/{opportunity_id}/stage", move, methods=["POST"]),
        Route("/sandbox/files/{version_id}", download, methods=["GET"]),
    ]
