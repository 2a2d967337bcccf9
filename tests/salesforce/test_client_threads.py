"""The Salesforce client shared by many worker threads: an expired session is replaced by one login."""

from __future__ import annotations

import threading

import requests
from simple_salesforce.exceptions import SalesforceExpiredSession

from adapters.salesforce.auth import SalesforceSession
from adapters.salesforce.client import SalesforceClient

THREADS = 8


class CountingLogin:
    def __init__(self):
        self.logins = 0
        self.lock = threading.Lock()

    def login(self) -> SalesforceSession:
        with self.lock:
            self.logins += 1
            return SalesforceSession(f"token-{self.logins}", "https://example.my.salesforce.com")


def test_threads_that_all_find_the_session_expired_log_in_again_once():
    authenticator = CountingLogin()
    client = SalesforceClient(authenticator, session=requests.Session())
    all_failed = threading.Barrier(THREADS, timeout=10)
    tokens = []

    def operation(sf):
        if sf.session_id == "token-1":
            all_failed.wait()  # every thread holds the expired session before any logs in again
            raise SalesforceExpiredSession("https://example.my.salesforce.com", 401, "query", b"[]")
        return sf.session_id

    threads = [threading.Thread(target=lambda: tokens.append(client.call("a query", operation)))
               for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert authenticator.logins == 2  # the first login, and one more for everybody
    assert tokens == ["token-2"] * THREADS
