"""`python -m conformance.cddl`: see conformance.cddl.cli."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
