"""The operator's search over jobs (the admin page): filters, newest first, one page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from connector.store.models import JobRow

if TYPE_CHECKING:
    from connector.store.jobs import Job

REFUSED = "refused"  # an outcome to filter on: failed before anything was sent (status Error on the opportunity)
IN_PROGRESS = "none"  # an outcome to filter on: no outcome yet


@dataclass(frozen=True)
class JobFilter:
    """Every condition given must hold; None (or empty) leaves it out."""

    state: str | None = None
    outcome: str | None = None  # an outcome, REFUSED or IN_PROGRESS
    rule_id: str | None = None
    provider: str | None = None
    opportunity: str | None = None  # the opportunity's id, or a part of its name (any case)
    created_from: datetime | None = None
    created_before: datetime | None = None
    needs_action: bool = False  # parked, or refused before sending: what Retry / Re-send acts on


@dataclass(frozen=True)
class JobPage:
    jobs: Sequence[Job]
    total: int


def refused_before_sending() -> ColumnElement[bool]:
    return and_(JobRow.state == "done", JobRow.outcome == "failed", JobRow.request_id.is_(None))


def _conditions(where: JobFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where.state:
        found.append(JobRow.state == where.state)
    if where.outcome == REFUSED:
        found.append(refused_before_sending())
    elif where.outcome == IN_PROGRESS:
        found.append(JobRow.outcome.is_(None))
    elif where.outcome:
        found.append(JobRow.outcome == where.outcome)
    if where.rule_id:
        found.append(JobRow.rule_id == where.rule_id)
    if where.provider:
        found.append(JobRow.provider == where.provider)
    if where.opportunity:
        name = JobRow.opportunity["name"].as_string()
        found.append(or_(JobRow.opportunity_id == where.opportunity,
                         func.lower(name).contains(where.opportunity.lower(), autoescape=True)))
    if where.created_from:
        found.append(JobRow.created_at >= where.created_from)
    if where.created_before:
        found.append(JobRow.created_at < where.created_before)
    if where.needs_action:
        found.append(or_(JobRow.state == "parked", refused_before_sending()))
    return found


def search(session: Session, where: JobFilter, *, offset: int, limit: int) -> tuple[list[JobRow], int]:
    conditions = _conditions(where)
    total = session.scalar(select(func.count()).select_from(JobRow).where(*conditions)) or 0
    rows = session.scalars(select(JobRow).where(*conditions).order_by(JobRow.created_at.desc(), JobRow.id)
                           .offset(offset).limit(limit)).all()
    return list(rows), total
