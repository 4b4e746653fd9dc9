"""Names of régions, départements and EPCI, read once per process.

Reference data only changes with `load_territories`, which is followed by a restart: a page can
name a structure's département, région and EPCI without joining three more tables (each join
costs the planner more than reading the row).
"""

from cadre.territories.models import Department, Epci, Region

_cache = {}


def _load(key, read):
    if key not in _cache:
        value = read()
        if not value:  # geography not loaded yet: read again next time
            return value
        _cache[key] = value
    return _cache[key]


def department_place(code):
    """(département name, région name) of a département code."""
    places = _load(
        "departments",
        lambda: {
            code: (name, region)
            for code, name, region in Department.objects.values_list("code", "name", "region__name")
        },
    )
    return places.get(code, ("", ""))


def epci_name(siren):
    names = _load("epci", lambda: dict(Epci.objects.values_list("siren", "name")))
    return names.get(siren, "") if siren else ""


def region_names():
    """{code: name} of the régions, in name order."""
    return _load("regions", lambda: dict(Region.objects.order_by("name").values_list("code", "name")))


def department_names():
    """{code: name} of the départements, in code order."""
    return _load("department_names", lambda: dict(Department.objects.order_by("code").values_list("code", "name")))


def department_region(code):
    """The région code of a département."""
    return _load("department_regions", lambda: dict(Department.objects.values_list("code", "region_id"))).get(code)
