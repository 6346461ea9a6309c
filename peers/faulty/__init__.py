"""The fault zoo as package data: pyproject.toml installs this folder as `conformance.data.faulty`."""
