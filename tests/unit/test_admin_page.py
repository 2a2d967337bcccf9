"""The admin page in-process (the browser test drives it for real): authentication, CSRF, escaping, filters,
the Retry action, the refused-callback tally."""

from __future__ import annotations

import base64
import logging
import re

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from connector.adminweb.auth import AdminAuth
from connector.ports.provider import ProviderTransientError
from connector.store import JobState
from tests.unit.conftest import World

TOKEN = "admin-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def admin(world: World):
    world.settings = Settings(_env_file=None, database_url=world.db_url, public_base_url="https://connector.example",
                              retry_base_seconds=1, admin_token=TOKEN, admin_username="ann",
                              admin_password="correct-horse-battery")
    daemon = world.daemon()
    return daemon, TestClient(daemon.webhook_app())


def _parked(world: World, daemon, name: str = "Deal 1AAA"):
    opportunity = world.add_opportunity()
    from dataclasses import replace

    world.crm.opportunities[opportunity.id] = replace(opportunity, name=name)
    for _ in range(daemon.settings.max_attempts):
        world.provider.fail_next_create = ProviderTransientError("fake", "503 <b>upstream</b>")
        daemon.run_once()
        world.clock.advance(hours=2)
    job = daemon.store.list_jobs()[0]
    assert job.state == JobState.PARKED
    return job


def test_the_page_is_off_without_credentials(world: World):
    client = TestClient(world.daemon().webhook_app())
    assert client.get("/admin/", headers=BEARER).status_code == 404
    assert client.get("/admin/health", headers=BEARER).status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0000000"}, _basic("ann", "wrong"),
                                     _basic("bob", "correct-horse-battery"), {"Authorization": "Basic %%%"},
                                     {"Authorization": "Digest x"}])
def test_without_valid_credentials_every_admin_url_answers_401(admin, headers):
    _, client = admin
    for url in ("/admin/", "/admin/jobs", "/admin/health", "/admin/jobs/x"):
        response = client.get(url, headers=headers)
        assert response.status_code == 401 and "Basic realm" in response.headers["www-authenticate"]
        assert TOKEN not in response.text
    assert client.post("/admin/jobs/x/retry", headers=headers).status_code == 401


def test_a_token_or_the_login_opens_it(admin):
    _, client = admin
    for headers in (BEARER, _basic("anyone", TOKEN), _basic("ann", "correct-horse-battery")):
        response = client.get("/admin/", headers=headers)
        assert response.status_code == 200 and "Parked and refused jobs" in response.text
        assert response.headers["x-frame-options"] == "DENY"
    health = client.get("/admin/health", headers=BEARER).json()
    assert health["status"] == "ok" and "jobs" in health and "salesforce_api" in health


def test_retry_needs_the_csrf_token_and_is_audited(admin, world: World, caplog):
    daemon, client = admin
    job = _parked(world, daemon)
    headers = _basic("ann", "correct-horse-battery")
    assert client.post(f"/admin/jobs/{job.id}/retry", headers=headers).status_code == 403
    assert client.post(f"/admin/jobs/{job.id}/retry", headers=headers, data={"csrf": "1.abc"}).status_code == 403
    flood = "&".join(f"f{n}=1" for n in range(50))
    assert client.post(f"/admin/jobs/{job.id}/retry", headers={**headers, "content-type":
                       "application/x-www-form-urlencoded"}, content=flood).status_code == 403
    other = client.get(f"/admin/jobs/{job.id}", headers=BEARER).text  # a token issued to another name
    stolen = re.search(r'name="csrf" value="([^"]+)"', other).group(1)
    assert client.post(f"/admin/jobs/{job.id}/retry", headers=headers, data={"csrf": stolen}).status_code == 403
    assert daemon.store.get_job(job.id).state == JobState.PARKED

    page = client.get(f"/admin/jobs/{job.id}", headers=headers).text
    assert ">Retry</button>" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    with caplog.at_level(logging.INFO, logger="connector.audit"):
        response = client.post(f"/admin/jobs/{job.id}/retry", headers=headers, data={"csrf": csrf},
                               follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/admin/jobs/{job.id}?result=resumed"
    assert f"admin ann: retry of job {job.id}: job {job.id} resumed at step new" in caplog.text
    assert "correct-horse-battery" not in caplog.text
    daemon.run_once()
    assert daemon.store.get_job(job.id).state == JobState.AWAITING


def test_user_data_is_escaped(admin, world: World):
    daemon, client = admin
    job = _parked(world, daemon, name='<script>alert("x")</script> & Co')
    for url in ("/admin/", "/admin/jobs", f"/admin/jobs/{job.id}"):
        text = client.get(url, headers=BEARER).text
        assert "<script>alert" not in text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in text
    assert "<b>upstream</b>" not in client.get(f"/admin/jobs/{job.id}", headers=BEARER).text


@pytest.mark.parametrize("query, problem", [("state=bogus", "state: 'bogus' is not a job state"),
                                            ("from=2026-13-01", "from: '2026-13-01' is not a date"),
                                            ("page=-1", "page: '-1' is not a page number"),
                                            ("outcome=x", "outcome: 'x' is not one of"),
                                            ("rule=a%00b", "'rule': holds control characters")])
def test_a_bad_filter_is_a_located_400(admin, query, problem):
    _, client = admin
    response = client.get(f"/admin/jobs?{query}", headers=BEARER)
    assert response.status_code == 400 and problem in response.text


def test_filters_select_jobs(admin, world: World):
    daemon, client = admin
    _parked(world, daemon)
    assert "1 job(s)" in client.get("/admin/jobs?state=parked&rule=quote&provider=signrequest&opportunity=deal",
                                    headers=BEARER).text
    assert "0 job(s)" in client.get("/admin/jobs?state=done", headers=BEARER).text
    assert "0 job(s)" in client.get("/admin/jobs?from=2030-01-01", headers=BEARER).text
    assert "1 job(s)" in client.get("/admin/jobs?to=2026-11-24", headers=BEARER).text


def test_refused_callbacks_are_counted_by_reason(admin):
    _, client = admin
    for _ in range(3):
        assert client.post("/webhooks/signrequest", content=b"not json").status_code >= 400
    page = client.get("/admin/", headers=BEARER).text
    assert re.search(r"<td>signrequest</td><td>\d+</td><td>[^<]+</td><td>3</td>", page)


@pytest.mark.parametrize("values, problem", [
    ({"admin_username": "ann"}, "set both CONNECTOR_ADMIN_USERNAME and CONNECTOR_ADMIN_PASSWORD"),
    ({"admin_token": "secret-xyz"}, "CONNECTOR_ADMIN_TOKEN must be at least 12 characters"),
    ({"admin_username": "ann", "admin_password": "secret-xyz"}, "CONNECTOR_ADMIN_PASSWORD must be at least 12"),
    ({"admin_password": "a-long-secret-xyz", "salesforce_client_secret": "sf-secret-xyz"}, "set both")])
def test_incomplete_or_weak_admin_settings_are_refused_at_start(values, problem):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=problem) as caught:
        Settings(_env_file=None, **values)
    assert "secret-xyz" not in str(caught.value)  # neither the refused value nor any other


def test_a_malformed_job_id_is_not_found(admin):
    _, client = admin
    assert client.get("/admin/jobs/a%00b", headers=BEARER).status_code == 404
    csrf = AdminAuth(token=TOKEN, username="ann", password="correct-horse-battery").csrf_token("token")
    answer = client.post("/admin/jobs/a%00b/retry", headers=BEARER, data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/jobs/a%00b?result=unknown"
