"""Where the command line finds its settings and state, and how it reports a failure: one line, an exit code.

Settings come from the environment and one env file: `--env-file PATH` when given; else `./.env` when there
is one; else, in a checkout where `make sandbox` has run, the file it writes (`sandbox-state/sandbox.env`),
so that `status`, `plan` and the rest work against the sandbox with nothing to set.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import ValidationError

from config.settings import Settings

SANDBOX_ENV = Path("sandbox-state") / "sandbox.env"


class CliError(Exception):
    """A failure the command explains in one line; `code` is the exit status."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def load_settings(env_file: str | None, *, use_sandbox: bool = True) -> Settings:
    path: Path | None
    if env_file is not None:
        path = Path(env_file)
        if not path.is_file():
            raise CliError(f"--env-file {env_file}: no such file")
    elif Path(".env").is_file():
        path = Path(".env")
    elif use_sandbox and SANDBOX_ENV.is_file():
        path = SANDBOX_ENV
        print(f"(settings from {SANDBOX_ENV}, written by `make sandbox`; --env-file or a .env chooses others)",
              file=sys.stderr)
    else:
        path = None
    try:
        return Settings(_env_file=path)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "CONNECTOR_" + "_".join(str(part) for part in first["loc"]).upper()
        raise CliError(f"setting {name}: {first['msg']}") from None


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or database_url == prefix or ":memory:" in database_url:
        return None
    return Path(database_url[len(prefix):].split("?", 1)[0])


def require_state(settings: Settings) -> None:
    """Refuse to read a SQLite state database that does not exist (opening it would create an empty one)."""
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        raise CliError(f"no state database at {path}: the daemon has not run with these settings. Point "
                       "CONNECTOR_DATABASE_URL at the daemon's (or pass --env-file), or run `make sandbox` first")


def require_salesforce(settings: Settings) -> None:
    """Refuse, in one line, a command that needs Salesforce when no login is configured at all."""
    flow = settings.salesforce_auth_flow
    needed = {"client_credentials": ("client_id", "client_secret"), "jwt": ("client_id", "username"),
              "password": ("client_id", "username", "password"), "soap": ("username", "password")}[flow]
    missing = [f"CONNECTOR_SALESFORCE_{name.upper()}" for name in needed
               if not getattr(settings, f"salesforce_{name}")]
    if missing:
        raise CliError(f"Salesforce is not configured: the {flow} login needs {', '.join(missing)} (see "
                       "config/example.env; pass --env-file, or run `make sandbox` to use its simulated org)")


def one_line(exc: BaseException) -> str:
    """An exception as the one line the command prints."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split()) if "\n" not in str(message) else str(message)
