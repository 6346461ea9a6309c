"""`python -m conformance` is the `ouroboros-conformance` command (for subprocesses without the script)."""

from .cli import main

raise SystemExit(main())
