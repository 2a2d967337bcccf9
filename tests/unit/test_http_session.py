"""The daemon's HTTP session: the environment's proxy and CA settings read once per host, a configured
CA bundle winning over REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import requests
import responses

from adapters.transport.session import make_session


@responses.activate
def test_environment_is_read_once_per_host(monkeypatch):
    looked_up = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        lambda url, no_proxy=None: looked_up.append(url) or real(url, no_proxy=no_proxy))
    responses.get("https://a.example/x", body="a")
    responses.get("https://b.example/y", body="b")
    session = make_session()
    for _ in range(3):
        assert session.get("https://a.example/x").text == "a"
    assert session.get("https://b.example/y").text == "b"
    assert looked_up == ["https://a.example/x", "https://b.example/y"]


def test_proxies_from_the_environment_apply_and_per_call_ones_win(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    seen = []
    # The spy on send is undone before responses stops: undone after, it would put responses' mock back for
    # every later test in the session.
    with responses.RequestsMock() as mocked, monkeypatch.context() as patch:
        mocked_send = requests.adapters.HTTPAdapter.send
        patch.setattr(requests.adapters.HTTPAdapter, "send",
                      lambda self, request, **kw: seen.append(kw["proxies"]) or mocked_send(self, request, **kw))
        mocked.get("https://a.example/x", body="a")
        session = make_session()
        session.get("https://a.example/x")
        session.get("https://a.example/x")
        session.get("https://a.example/x", proxies={"https": "http://other.example:8080"})
    assert [p.get("https") for p in seen] == ["http://proxy.example:3128", "http://proxy.example:3128",
                                              "http://other.example:8080"]


def test_configured_ca_bundle_wins_over_the_environment(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/elsewhere/ca.pem")
    pinned = make_session(bundle)
    plain = make_session()
    assert pinned.merge_environment_settings("https://a.example/", {}, False, None, None)["verify"] == str(bundle)
    assert plain.merge_environment_settings("https://a.example/", {}, False, None, None)["verify"] == \
        "/elsewhere/ca.pem"
