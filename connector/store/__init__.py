"""The state database: jobs, callback events, leases and shared values, behind one Store (SQLAlchemy)."""

from connector.store.events import EventCaps, NewEvent
from connector.store.jobs import Job, JobState
from connector.store.pending_effect import Effect, PendingEffect, Reminder
from connector.store.request_state import RequestState
from connector.store.store import LeaseLost, Store

__all__ = ["Effect", "EventCaps", "Job", "JobState", "LeaseLost", "NewEvent", "PendingEffect", "Reminder",
           "RequestState", "Store"]
