"""The state database: jobs, callback events, leases and shared values, behind one Store (SQLAlchemy)."""

from connector.store.events import EventCaps, NewEvent
from connector.store.job_search import JobFilter, JobPage
from connector.store.jobs import Job, JobState
from connector.store.pending_effect import Effect, PendingEffect, Reminder
from connector.store.request_state import RequestState
from connector.store.resume import Resumed, ResumeResult
from connector.store.store import LeaseLost, Store
from connector.store.timeline import TimelineEntry, TimelineKind

__all__ = ["Effect", "EventCaps", "Job", "JobFilter", "JobPage", "JobState", "LeaseLost", "NewEvent", "PendingEffect",
           "Reminder", "RequestState", "ResumeResult", "Resumed", "Store", "TimelineEntry", "TimelineKind"]
