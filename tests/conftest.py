"""Shared fixtures: state-store URLs for SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest

POSTGRES_ENV = "CONNECTOR_TEST_POSTGRES_URL"


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} must be set in CI (see .ci/run)")
        pytest.skip(f"set {POSTGRES_ENV}=postgresql+psycopg://user@host:5432/db to run PostgreSQL tests")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"connector_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    return request.getfixturevalue("postgres_url")
