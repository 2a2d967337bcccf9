"""A daemon built around the in-memory fakes, with a clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from config.settings import Settings
from connector.ports.crm import Contact, ContactRole, FileRef, Opportunity
from connector.runtime.daemon import Daemon, bootstrap
from connector.store import Store
from mappings.loader import parse_mapping
from sandbox.pdfgen import text_pdf
from tests.fakes import FakeCRM, FakeProvider

RULES = """
version: 1
rules:
  - id: quote
    trigger: {stages: ["Contract Sent"]}
    provider: signrequest
    documents: {title_pattern: "Quote*"}
    signers: [{role: Decision Maker}, {role: Economic Buyer}]
    subject: "Sign {{Opportunity.Name}}"
"""


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class World:
    crm: FakeCRM
    provider: FakeProvider
    clock: Clock
    db_url: str
    settings: Settings
    mapping: object = None

    def daemon(self) -> Daemon:
        """A fresh daemon on the same database: what a restart looks like."""
        store = Store(self.db_url, clock=self.clock)
        store.migrate()
        return bootstrap(self.settings, crm=self.crm, providers={"signrequest": self.provider}, store=store,
                         mapping=self.mapping or parse_mapping(RULES), clock=self.clock)

    def add_opportunity(self, opp_id: str = "006000000000001AAA", *, email: str | None = "dana@example.com",
                        content: bytes | None = None, stage: str = "Contract Sent") -> Opportunity:
        version = "068" + opp_id[3:]
        self.crm.file_contents[version] = content if content is not None else text_pdf([["Quote"]])
        opportunity = Opportunity(
            id=opp_id, name=f"Deal {opp_id[-4:]}", stage=stage, system_modstamp=self.clock(),
            stage_changed_at=self.clock(), account_name="Acme", owner_name="Rita Rep",
            contact_roles=(
                ContactRole(Contact("003000000000001AAA", "Dana", "Signer", email), "Decision Maker", True),
                ContactRole(Contact("003000000000002AAA", "Eli", "Buyer", "eli@example.com"), "Economic Buyer"),
            ),
            files=(FileRef("069" + opp_id[3:], version, "Quote Q-1", "pdf", 100),),
        )
        self.crm.opportunities[opp_id] = opportunity
        return opportunity


@pytest.fixture
def store(store_url):
    """A migrated store on each database the suite runs against (SQLite, and PostgreSQL when configured)."""
    store = Store(store_url)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def world(tmp_path) -> World:
    clock = Clock()
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/state.db",
                        public_base_url="https://connector.example", retry_base_seconds=1)
    return World(FakeCRM(), FakeProvider(name="signrequest"), clock, settings.database_url, settings)
