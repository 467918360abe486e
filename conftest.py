"""Repo-level pytest configuration: the plugin tests use pytester; nothing else is global."""

pytest_plugins = ["pytester"]
