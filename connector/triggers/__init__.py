"""What starts and cancels jobs: the pure trigger decision, its intake into the store, and the poller."""
