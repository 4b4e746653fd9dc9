"""Rows of the role × URL matrix (tests/test_access.py) for the registry import."""

from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.exchanges import registry
from cadre.exchanges.actions import record_registry_import
from cadre.exchanges.models import RegistryImport
from tests.test_access import CREATE_STRUCTURE, LOGIN, row

ADMIN_ONLY = row(LOGIN, *[403] * 6, 200)


def registry_import():
    """A checked file of one structure of Villeurbanne, uploaded by the Caf 69 advisor."""
    found = RegistryImport.objects.first()
    if found is None:
        headers = ";".join(c.header for c in registry.STRUCTURE_COLUMNS[:4] + [registry.STRUCTURE_COLUMNS[9]])
        content = f"{headers}\r\n73282932000074;Centre social importé;Centre social;Associatif;69266\r\n".encode()
        advisor = User.objects.get(email=cast.CAF69)
        found = record_registry_import(registry.STRUCTURES, advisor, "registre.csv", content)
    return found


ROWS = {
    # Who may create structures imports them (each row then checked against their scope).
    "exchanges:registry_structures": ("get", lambda o: reverse("exchanges:registry_structures"), CREATE_STRUCTURE),
    "exchanges:registry_structures_template": (
        "get",
        lambda o: reverse("exchanges:registry_structures_template"),
        CREATE_STRUCTURE,
    ),
    "exchanges:registry_partners": ("get", lambda o: reverse("exchanges:registry_partners"), ADMIN_ONLY),
    "exchanges:registry_partners_template": (
        "get",
        lambda o: reverse("exchanges:registry_partners_template"),
        ADMIN_ONLY,
    ),
    # Uploaded by the Caf 69 advisor: only they (and administrators) open it; only they apply it.
    "exchanges:registry_import_detail": (
        "get",
        lambda o: reverse("exchanges:registry_import_detail", args=[registry_import().uuid]),
        row(LOGIN, 404, 404, 200, 404, 404, 404, 200),
    ),
    "exchanges:registry_import_apply": (
        "post",
        lambda o: reverse("exchanges:registry_import_apply", args=[registry_import().uuid]),
        row(LOGIN, 404, 404, 302, 404, 404, 404, 403),
    ),
}
