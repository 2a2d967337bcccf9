"""What every HTTP adapter shares: sessions, the error taxonomy and retries of HTTP calls, callback JSON,
the settings base of a provider."""
