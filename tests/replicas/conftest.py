"""Fixtures for replicas sharing one PostgreSQL database: fresh databases, made and dropped per test."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.conftest import POSTGRES_ENV


@pytest.fixture
def fresh_database():
    """A factory of fresh, empty PostgreSQL databases (URLs), all dropped after the test."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} must be set in CI (see .ci/run)")
        pytest.skip(f"set {POSTGRES_ENV}=postgresql+psycopg://user@host:5432/db to run the replica tests")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"connector_replicas_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(base).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(autouse=True)
def _receipt_key_in_tmp(tmp_path, monkeypatch):
    """Daemons on PostgreSQL keep the receipt key in the working directory by default: not the checkout's."""
    monkeypatch.setenv("CONNECTOR_RECEIPT_KEY_FILE", str(tmp_path / "receipt-signing-key.pem"))
