"""The register of personal-data processings, as the operator writes it (CADRE_PROCESSINGS_FILE, TOML)."""

import functools
import tomllib

from django.conf import settings


@functools.cache
def _read_register(path):
    with open(path, "rb") as file:
        return tomllib.load(file).get("processing", [])


def processings():
    """The register of processings as the operator wrote it, with the configured durations filled in."""
    values = {"inactive_months": settings.CADRE_INACTIVE_ACCOUNT_MONTHS, "operator": settings.CADRE_OPERATOR["name"]}
    fields = ("name", "purpose", "legal_basis", "people", "data", "retention", "recipients")
    return [
        {field: str(entry.get(field, "")).format(**values) for field in fields}
        for entry in _read_register(settings.CADRE_PROCESSINGS_FILE)
    ]
