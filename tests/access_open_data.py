"""Rows of the role × URL matrix (tests/test_access.py) for the open data pages and API:
{url name: (method, url builder taking the `objects` fixture, statuses by role)}."""

from tests.test_access import LOGIN, row  # noqa: F401 — imported while test_access is loading: defined above

ROWS = {}
