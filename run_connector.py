#!/usr/bin/env python3
"""Entry point: `python run_connector.py [run|sandbox|status|retry|migrate|check-mappings|plan] ...`.

The `sandbox` command comes from the checkout's `sandbox/` package, which the wheel does not ship; the installed
`esign-connector` command has every other one.
"""

import sys

from connector.admin.cli import main
from sandbox.cli import SANDBOX_COMMAND

if __name__ == "__main__":
    sys.exit(main(extra=[SANDBOX_COMMAND]))
