"""The golden vectors as package data: pyproject.toml installs this folder as `conformance.data.vectors`."""
