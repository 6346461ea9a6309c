"""The peer profiles as package data: pyproject.toml installs this folder as `conformance.data.profiles`."""
