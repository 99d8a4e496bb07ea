"""The installed version, read from the package metadata: pyproject.toml is its one definition."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def installed_version() -> str:
    try:
        return version("rankwise")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
