"""The admin page's routes: jobs with filters, one job's timeline, Retry / Re-send after fix, refused
callbacks, the Salesforce API budget, the rules in force, and the detailed health JSON.

Every route asks for the admin credentials (401 with a basic-auth challenge otherwise); every action is a
POST form carrying a CSRF token (403 without a valid one) and is logged with who did what to which job.
All text is escaped by the templates (Jinja2 autoescaping): opportunity names and errors are user data."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from connector.adminweb.auth import AdminAuth
from connector.inbound.refusals import WebhookRefusals
from connector.store import Job, JobFilter, JobState, Store
from connector.store.job_search import IN_PROGRESS, REFUSED
from connector.store.resume import is_job_id
from mappings.models import MappingFile
from mappings.source import ReloadResult

log = logging.getLogger(__name__)
audit = logging.getLogger("connector.audit")

PAGE_SIZE = 50
_MAX_FORM_BYTES = 4096
OUTCOMES = ("completed", "declined", "expired", "cancelled", "failed", REFUSED, IN_PROGRESS)
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
_RESULTS = {"resumed": "Resumed: the job goes on from the step it stopped at.",
            "resent": "Re-sent: the job reads the opportunity again and sends the request.",
            "unknown": "No such job.", "not resumable": "This job cannot be retried in its state."}


@dataclass(frozen=True)
class AdminSources:
    """What the page reads, handed in by the daemon (the composition root)."""

    store: Store
    health: Callable[[], dict]
    budget: Callable[[], dict]
    rules: Callable[[], MappingFile]
    last_reload: Callable[[], ReloadResult]
    refusals: WebhookRefusals
    record_url: Callable[[str, str], str | None]
    providers: Callable[[], list[str]]
    on_resume: Callable[[], None] = lambda: None


class BadQuery(ValueError):
    """A filter value the page cannot use: answered 400 with what was wrong."""


def _parse_day(name: str, value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        raise BadQuery(f"{name}: {value[:40]!r} is not a date (YYYY-MM-DD)") from None


def parse_filter(params: dict[str, str]) -> tuple[JobFilter, int]:
    for name, value in params.items():
        if not value.isprintable():
            raise BadQuery(f"{name[:40]!r}: holds control characters")
    state = params.get("state", "")
    if state and state not in {s.value for s in JobState}:
        raise BadQuery(f"state: {state[:40]!r} is not a job state")
    outcome = params.get("outcome", "")
    if outcome and outcome not in OUTCOMES:
        raise BadQuery(f"outcome: {outcome[:40]!r} is not one of {', '.join(OUTCOMES)}")
    page = params.get("page", "1") or "1"
    if not page.isdigit() or not 1 <= int(page) <= 100_000:
        raise BadQuery(f"page: {page[:20]!r} is not a page number")
    until = _parse_day("to", params.get("to", ""))
    where = JobFilter(state=state or None, outcome=outcome or None, rule_id=params.get("rule") or None,
                      provider=params.get("provider") or None,
                      opportunity=(params.get("opportunity") or "").strip()[:200] or None,
                      created_from=_parse_day("from", params.get("from", "")),
                      created_before=until + timedelta(days=1) if until else None)
    return where, int(page)


def _retry_label(job: Job) -> str | None:
    if job.state == JobState.PARKED:
        return "Retry"
    if job.state == JobState.DONE and job.outcome == "failed" and job.request_id is None:
        return "Re-send after fix"
    return None


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def _safe_url(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


async def _form_value(request: Request, name: str) -> str | None:
    """One field of a small urlencoded form (the page's forms hold a CSRF token only); None when absent."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > _MAX_FORM_BYTES:
            return None
    try:
        values = parse_qs(body.decode("latin-1"), max_num_fields=10).get(name)
    except ValueError:  # more fields than any of the page's forms has
        return None
    return values[0] if values else None


def admin_routes(auth: AdminAuth, sources: AdminSources) -> list[Route]:
    """The admin page's routes, for the daemon's HTTP server (under /admin)."""
    templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                            autoescape=select_autoescape(default=True, default_for_string=True))
    templates.globals.update(retry_label=_retry_label)
    templates.filters["when"] = _when

    def page(name: str, who: str, status: int = 200, **values) -> Response:
        html = templates.get_template(name).render(who=who, csrf=auth.csrf_token(who), **values)
        return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)

    def signed_in(handler):
        async def guarded(request: Request) -> Response:
            who = auth.who(request.headers.get("authorization"))
            if who is None:
                # A browser asks without credentials first, then again with them once challenged.
                tried = "authorization" in request.headers
                log.log(logging.WARNING if tried else logging.DEBUG, "admin page: %s %s refused (401): %s",
                        request.method, request.url.path, "wrong credentials" if tried else "no credentials")
                return PlainTextResponse("authentication required", status_code=401, headers={
                    "WWW-Authenticate": 'Basic realm="esign-connector admin", charset="UTF-8"', **_SECURITY_HEADERS})
            return await handler(request, who)
        return guarded

    def job_links(job: Job) -> dict[str, str | None]:
        return {"opportunity": _safe_url(sources.record_url("Opportunity", job.opportunity_id))}

    async def overview(request: Request, who: str) -> Response:
        def read() -> dict:
            attention = sources.store.search_jobs(JobFilter(needs_action=True), limit=PAGE_SIZE)
            return {"attention": attention, "events": sources.store.count_events(),
                    "counts": sources.store.count_jobs_by_state()}
        data = await run_in_threadpool(read)
        mapping = sources.rules()
        return page("overview.html", who, refusals=sources.refusals.snapshot(), budget=sources.budget(),
                    rules=mapping.rules, reload=sources.last_reload(), **data)

    async def jobs(request: Request, who: str) -> Response:
        params = {k: v for k, v in request.query_params.items()}
        try:
            where, number = parse_filter(params)
        except BadQuery as exc:
            return PlainTextResponse(f"bad filter: {exc}", status_code=400, headers=_SECURITY_HEADERS)
        found = await run_in_threadpool(sources.store.search_jobs, where, offset=(number - 1) * PAGE_SIZE,
                                        limit=PAGE_SIZE)
        kept = {k: v for k, v in params.items() if v and k != "page"}
        pages = max(1, -(-found.total // PAGE_SIZE))
        link = {n: "?" + urlencode({**kept, "page": n}) for n in (number - 1, number + 1) if 1 <= n <= pages}
        return page("jobs.html", who, found=found, params=params, page=number, pages=pages, link=link,
                    states=[s.value for s in JobState], outcomes=OUTCOMES,
                    rule_ids=sorted({r.id for r in sources.rules().rules}), providers=sources.providers())

    async def job(request: Request, who: str) -> Response:
        job_id = request.path_params["job_id"]
        found = await run_in_threadpool(sources.store.get_job, job_id) if is_job_id(job_id) else None
        if found is None:
            return PlainTextResponse("no such job", status_code=404, headers=_SECURITY_HEADERS)
        entries = await run_in_threadpool(sources.store.timeline, job_id)
        result = request.query_params.get("result", "")
        return page("job.html", who, job=found, timeline=entries, links=job_links(found),
                    result=_RESULTS.get(result))

    async def retry(request: Request, who: str) -> Response:
        job_id = request.path_params["job_id"]
        if not auth.csrf_ok(who, await _form_value(request, "csrf")):
            audit.warning("admin %s: retry of job %s refused: missing or invalid CSRF token", who, quote(job_id[:40]))
            return PlainTextResponse("missing or invalid CSRF token; reload the page and try again", status_code=403,
                                     headers=_SECURITY_HEADERS)
        outcome = await run_in_threadpool(sources.store.resume, job_id, by=f"{who} (admin page)")
        audit.info("admin %s: retry of job %s: %s", who, quote(job_id[:40]), outcome.message)
        if outcome.ok:
            sources.on_resume()
        target = f"/admin/jobs/{quote(job_id, safe='')}?" + urlencode({"result": outcome.result.value})
        return RedirectResponse(target, status_code=303, headers=_SECURITY_HEADERS)

    async def health(request: Request, who: str) -> Response:
        details = await run_in_threadpool(sources.health)
        return JSONResponse({"status": "ok", **details}, headers=_SECURITY_HEADERS)

    async def to_overview(request: Request) -> Response:
        return RedirectResponse("/admin/", status_code=303)

    return [
        Route("/admin", to_overview, methods=["GET"]),
        Route("/admin/", signed_in(overview), methods=["GET"]),
        Route("/admin/jobs", signed_in(jobs), methods=["GET"]),
        Route("/admin/jobs/{job_id}", signed_in(job), methods=["GET"]),
        Route("/admin/jobs/{job_id}/retry", signed_in(retry), methods=["POST"]),
        Route("/admin/health", signed_in(health), methods=["GET"]),
    ]
