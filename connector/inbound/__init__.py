"""Provider callbacks in: the webhook server, group-committed ingest, and the dispatcher that wakes jobs."""
