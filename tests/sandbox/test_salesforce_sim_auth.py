"""Logins (OAuth, JWT bearer, SOAP), sessions, and API limits, against the simulator over HTTPS."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from xml.dom.minidom import parseString

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceRefusedRequest

from tests.sandbox.salesforce_sim_support import CLIENT, running_org

USERNAME = "integration@sandbox.example"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
PUBLIC_PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def sf_org(tmp_path_factory):
    with running_org(tmp_path_factory.mktemp("tls"), daily_api_limit=100_000,
                     jwt_public_key_pem=PUBLIC_PEM) as running:
        yield running


def _token(sf_org, data: dict, **kwargs):
    return sf_org.session().post(f"{sf_org.url}/services/oauth2/token", data=data, timeout=5, **kwargs)


def test_client_credentials_in_body_or_basic_auth(sf_org):
    in_body = _token(sf_org, {"grant_type": "client_credentials", **CLIENT})
    basic = base64.b64encode(b"sandbox-client-id:sandbox-client-secret").decode()
    in_header = _token(sf_org, {"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"})
    for response in (in_body, in_header):
        body = response.json()
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
        assert {"access_token", "instance_url", "id", "token_type", "scope", "issued_at", "signature"} <= set(body)
        assert body["access_token"].startswith("00D") and "!" in body["access_token"]
        assert body["instance_url"] == sf_org.url and body["token_type"] == "Bearer"
        assert body["id"].endswith(f"/{sf_org.sim.integration_user_id}")
        expected = hmac.new(b"sandbox-client-secret", (body["id"] + body["issued_at"]).encode(), hashlib.sha256)
        assert base64.b64decode(body["signature"]) == expected.digest()
    assert in_body.json()["access_token"] != in_header.json()["access_token"]


@pytest.mark.parametrize(("form", "error"), [
    ({"grant_type": "client_credentials", "client_id": "someone-else", "client_secret": "x"}, "invalid_client_id"),
    ({"grant_type": "client_credentials", "client_id": "sandbox-client-id", "client_secret": "wrong"},
     "invalid_client"),
    ({"grant_type": "password", **CLIENT, "username": USERNAME, "password": "sandbox-password"}, "invalid_grant"),
    ({"grant_type": "authorization_code", **CLIENT}, "unsupported_grant_type"),
    ({**CLIENT}, "unsupported_grant_type"),
])
def test_token_errors(sf_org, form, error):
    response = _token(sf_org, form)
    assert response.status_code == 400 and response.json()["error"] == error
    assert response.json()["error_description"]


def test_password_grant(sf_org):
    response = _token(sf_org, {"grant_type": "password", **CLIENT, "username": USERNAME,
                               "password": "sandbox-passwordsandbox-token"})
    assert response.status_code == 200 and response.json()["access_token"].startswith("00D")


def _assertion(**overrides) -> str:
    claims = {"iss": "sandbox-client-id", "sub": USERNAME, "aud": "https://login.salesforce.com",
              "exp": str(int(time.time()) + 180), **overrides}
    return jwt.encode(claims, KEY_PEM, algorithm="RS256")


# Built when the test runs, not at collection: a full suite reaches these minutes after collecting them.
@pytest.mark.parametrize(("assertion", "error"), [
    (lambda: _assertion(), None),
    (lambda: _assertion(exp=int(time.time()) + 60), None),
    (lambda: _assertion(aud="https://test.salesforce.com"), None),
    (lambda: _assertion(exp=str(int(time.time()) - 60)), None),  # within the 3-minute clock skew
    (lambda: _assertion(exp=str(int(time.time()) - 600)), "invalid_grant"),
    (lambda: _assertion(aud="https://evil.example"), "invalid_grant"),
    (lambda: _assertion(iss="another-app"), "invalid_client_id"),
    (lambda: _assertion(sub="stranger@sandbox.example"), "invalid_grant"),
    (lambda: jwt.encode({"iss": "sandbox-client-id", "sub": USERNAME, "aud": "https://login.salesforce.com",
                         "exp": int(time.time()) + 60}, "a-shared-secret-of-32-bytes-long!", algorithm="HS256"),
     "invalid_grant"),
    (lambda: jwt.encode({"iss": "sandbox-client-id", "sub": USERNAME, "aud": "https://login.salesforce.com",
                         "exp": int(time.time()) + 60},
                        rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"),
     "invalid_grant"),
])
def test_jwt_bearer(sf_org, assertion, error):
    response = _token(sf_org, {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                               "assertion": assertion()})
    if error is None:
        assert response.status_code == 200 and response.json()["access_token"].startswith("00D")
    else:
        assert response.status_code == 400 and response.json()["error"] == error


def test_real_client_logins_reach_the_simulator_and_refresh_after_expiry(sf_org):
    session = sf_org.session(reroute_logins=True)
    by_jwt = Salesforce(username=USERNAME, consumer_key="sandbox-client-id", privatekey=KEY_PEM.decode(),
                        session=session, version="59.0")
    by_soap = Salesforce(username=USERNAME, password="sandbox-password", security_token="sandbox-token",
                         session=session, version="59.0")
    for sf in (by_jwt, by_soap):
        assert sf.sf_instance == sf_org.url.removeprefix("https://")
        assert sf.query("SELECT Id FROM User")["totalSize"] >= 1
    old_session = by_soap.session_id
    sf_org.sim.expire_sessions()
    assert by_soap.query("SELECT Id FROM User")["totalSize"] >= 1  # 401 INVALID_SESSION_ID, login, retry
    assert by_soap.session_id != old_session


def test_soap_login_envelope(sf_org):
    envelope = """<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">
<env:Header><urn:CallOptions><urn:client>simple-salesforce</urn:client>
<urn:defaultNamespace>sf</urn:defaultNamespace></urn:CallOptions></env:Header>
<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>{user}</n1:username>
<n1:password>{password}</n1:password></n1:login></env:Body></env:Envelope>"""
    headers = {"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"}
    url = f"{sf_org.url}/services/Soap/u/59.0"
    ok = sf_org.session().post(url, data=envelope.format(user=USERNAME, password="sandbox-passwordsandbox-token"),
                               headers=headers, timeout=5)
    assert ok.status_code == 200 and ok.headers["Content-Type"].startswith("text/xml")
    document = parseString(ok.content)  # noqa: S318 - the simulator's reply, read as the client reads it
    session_id = document.getElementsByTagName("sessionId")[0].firstChild.nodeValue
    server_url = document.getElementsByTagName("serverUrl")[0].firstChild.nodeValue
    assert server_url.startswith(f"{sf_org.url}/services/Soap/u/59.0/00D")
    assert document.getElementsByTagName("sessionSecondsValid")[0].firstChild.nodeValue == "7200"
    assert sf_org.sim.sessions.valid(session_id)
    fault = sf_org.session().post(url, data=envelope.format(user=USERNAME, password="sandbox-password"),
                                  headers=headers, timeout=5)
    assert fault.status_code == 500
    parsed = parseString(fault.content)  # noqa: S318 - as above
    assert parsed.getElementsByTagName("sf:exceptionCode")[0].firstChild.nodeValue == "INVALID_LOGIN"
    assert parsed.getElementsByTagName("sf:exceptionMessage")[0].firstChild.nodeValue.startswith("Invalid username")
    garbage = sf_org.session().post(url, data="not xml", headers=headers, timeout=5)
    assert garbage.status_code == 500 and "soapenv:Fault" in garbage.text


def test_sessions_expire_and_new_tokens_work(sf_org):
    sf = sf_org.client()
    sf.query("SELECT Id FROM User LIMIT 1")
    sf_org.sim.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM User LIMIT 1")
    assert expired.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    for headers in ({}, {"Authorization": "Bearer 00Dfake!token"}, {"Authorization": "Basic abc"}):
        response = sf_org.session().get(f"{sf_org.url}/services/data/v59.0/limits", headers=headers, timeout=5)
        assert response.status_code == 401 and response.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert sf_org.client().query("SELECT Id FROM User LIMIT 1")["done"] is True


def test_usage_header_limits_and_counting(sf_org):
    sf = sf_org.client()
    sf_org.sim.reset_api_calls()
    opportunity = sf.Opportunity.create({"Name": "Counted", "StageName": "Proposal", "CloseDate": "2026-01-01"})
    sf.Opportunity.get(opportunity["id"])
    sf.query("SELECT Id FROM Opportunity LIMIT 1")
    assert sf.api_usage["api-usage"].used == 3 and sf.api_usage["api-usage"].total == 100_000
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 100_000, "Remaining": 100_000 - 4}
    assert sf_org.sim.api_calls == {"POST /sobjects/Opportunity": 1, "GET /sobjects/Opportunity/{id}": 1,
                                    "GET /query": 1, "GET /limits": 1}
    assert sf_org.sim.total_api_calls == 4  # the token request was not counted


def test_daily_limit_refuses_with_403(tmp_path):
    with running_org(tmp_path, daily_api_limit=2) as small:
        sf = small.client()
        sf.query("SELECT Id FROM User")
        sf.query("SELECT Id FROM User")
        with pytest.raises(SalesforceRefusedRequest) as refused:
            sf.query("SELECT Id FROM User")
        assert refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        assert small.sim.total_api_calls == 2
        assert small.token()  # logging in still works: it is not an API call


def test_overlong_uris_get_414():
    from sandbox.salesforce_sim import SalesforceSimulator

    sim = SalesforceSimulator()

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=sim.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://sandbox.test") as client:
            token = (await client.post("/services/oauth2/token",
                                       data={"grant_type": "client_credentials", **CLIENT})).json()["access_token"]
            return await client.get("/services/data/v59.0/query", params={"q": "SELECT Id FROM User " + "x" * 17000},
                                    headers={"Authorization": f"Bearer {token}"})

    response = asyncio.run(call())
    assert response.status_code == 414 and response.json()[0]["errorCode"] == "URI_TOO_LONG"
