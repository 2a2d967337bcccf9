from connector.store.events import NewEvent
from connector.store.jobs import Job, JobState
from connector.store.store import LeaseLost, Store

__all__ = ["Job", "JobState", "LeaseLost", "NewEvent", "Store"]
