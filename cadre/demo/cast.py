"""The demo cast: accounts created by `manage.py seed_demo`, named once for tests and docs."""

PASSWORD = "demo-cadre"
DOMAIN = "cadre.demo"

ADMIN = f"admin@{DOMAIN}"
CAF69 = f"caf69@{DOMAIN}"
CAF13 = f"caf13@{DOMAIN}"
CITY_VILLEURBANNE = f"ville.villeurbanne@{DOMAIN}"
FEDERATION69 = f"federation69@{DOMAIN}"
FEDERATION13 = f"federation13@{DOMAIN}"
PREFECTURE13 = f"prefecture13@{DOMAIN}"
METROPOLIS69 = f"metropole69@{DOMAIN}"


def structure_editor(number):
    """E-mail of the editor of the demo's structure number `number` (1 = structure A)."""
    return f"structure-{number:03d}@{DOMAIN}"


# Structure A: a centre social of Villeurbanne (69); structure B: a centre social of Marseille (13).
STRUCTURE_A = structure_editor(1)
STRUCTURE_B = structure_editor(2)

PARTNER_ACCOUNTS = [CAF69, CAF13, CITY_VILLEURBANNE, FEDERATION69, FEDERATION13, PREFECTURE13, METROPOLIS69]
