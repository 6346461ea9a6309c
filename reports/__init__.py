"""The report templates as package data: pyproject.toml installs this folder as `conformance.data.reports`."""
