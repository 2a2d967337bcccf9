"""The state database: jobs, callback events, leases and shared values, behind one Store (SQLAlchemy)."""

from connector.store.events import EventCaps, NewEvent
from connector.store.jobs import Job, JobState
from connector.store.store import LeaseLost, Store

__all__ = ["EventCaps", "Job", "JobState", "LeaseLost", "NewEvent", "Store"]
