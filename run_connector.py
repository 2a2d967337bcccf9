#!/usr/bin/env python3
"""Entry point: `python run_connector.py [run|sandbox|status|retry|migrate|check-mappings] ...`."""

import sys

from connector.cli import main

if __name__ == "__main__":
    sys.exit(main())
