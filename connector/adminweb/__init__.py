"""The admin page: server-rendered HTML on the daemon's HTTP server, behind its own authentication."""
