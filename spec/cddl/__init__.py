"""The vendored CDDL (see SOURCE.md) as package data: pyproject.toml installs it as `conformance.data.cddl`."""
