"""Rows of the role × URL matrix (tests/test_access.py): {url name: (method, url builder, statuses by role)}."""

from tests.test_access import LOGIN, row  # noqa: F401 — imported while test_access is loading

ROWS = {}
