"""The command line and the administrator's commands (status, retry, plan, check-mappings)."""
