"""What the runs of one process share: the database, migrated once and emptied before each run, and the settings
and mappings, parsed once.

Invariant: each run starts from an empty database (SQLite file, or a PostgreSQL database of its own) and the same
start time, so nothing of one run leaks into the next. One Store object serves every daemon of every run: it
holds no job state, only connections, and the harness never crashes a daemon inside a transaction, so a "new
daemon on the same database" needs no new Store.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from sqlalchemy import text

from config.settings import Settings, WritebackFields
from mappings.loader import parse_mapping
from mappings.models import MappingFile
from sandbox.pdfgen import text_pdf
from tests.simulation.clock import START, SimClock
from tests.simulation.faulty_store import FaultyStore

POSTGRES_ENV = "CONNECTOR_TEST_POSTGRES_URL"
SIGNING_URL_FIELD = "Signing_URL__c"


class SimEnvironment:
    def __init__(self, db_url: str | None = None):
        self._tmp: str | None = None
        if db_url is None:
            shm = Path("/dev/shm")
            self._tmp = tempfile.mkdtemp(prefix="connector-sim-", dir=shm if shm.is_dir() else None)
            db_url = f"sqlite:///{self._tmp}/state.db"
        self.db_url = db_url
        self.clock = SimClock()
        self.store = FaultyStore(db_url, clock=self.clock)
        self.store.migrate()
        self.quote_pdf = text_pdf([["Quote Q-1", "Terms and conditions"]])

    @property
    def dialect(self) -> str:
        return self.store.engine.dialect.name

    def reset(self) -> None:
        self.clock.now = START
        self.store.injector = None
        with self.store.engine.begin() as connection:
            if self.dialect == "postgresql":
                connection.execute(text("TRUNCATE jobs, events, kv, receipts RESTART IDENTITY"))
            else:
                for table in ("jobs", "events", "kv", "receipts"):
                    connection.execute(text(f"DELETE FROM {table}"))
            connection.execute(text("UPDATE receipt_chain SET sequence = 0, sha256 = NULL"))

    def settings(self, *, status_check_minutes: float, signing_url_field: bool) -> Settings:
        return _settings(self.db_url, status_check_minutes, signing_url_field)

    @staticmethod
    def mapping(rules_yaml: str) -> MappingFile:
        return _mapping(rules_yaml)

    def close(self) -> None:
        self.store.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


@lru_cache(maxsize=16)
def _settings(db_url: str, status_check_minutes: float, signing_url_field: bool) -> Settings:
    writeback = WritebackFields(_env_file=None, signing_url=SIGNING_URL_FIELD if signing_url_field else None)
    return Settings(_env_file=None, database_url=db_url, public_base_url="https://connector.example",
                    status_check_minutes=status_check_minutes, writeback=writeback,
                    downloads_side_by_side=False)


@lru_cache(maxsize=16)
def _mapping(rules_yaml: str) -> MappingFile:
    return parse_mapping(rules_yaml)


def postgres_url_from_env() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


class PostgresDatabase:
    """A database of its own on the server at `base_url` (created here, dropped on close), so that concurrent
    simulations and test sessions never share tables."""

    def __init__(self, base_url: str):
        import secrets

        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.name = f"connector_sim_{secrets.token_hex(5)}"  # not uuid4: runs pin that
        self._admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(base_url).set(database=self.name).render_as_string(hide_password=False)

    def close(self) -> None:
        with self._admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()
