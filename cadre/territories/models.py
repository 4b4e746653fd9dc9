"""Official French geography (INSEE COG 2026, DGCL EPCI 2026, ANCT QPV 2024)."""

import functools
import math

from django.db import models
from django.db.models import Q


class Region(models.Model):
    code = models.CharField("code INSEE", max_length=3, primary_key=True)
    name = models.CharField("nom", max_length=100)

    class Meta:
        verbose_name = "région"
        ordering = ["name"]

    def __str__(self):
        return self.name


class Department(models.Model):
    code = models.CharField("code INSEE", max_length=3, primary_key=True)
    name = models.CharField("nom", max_length=100)
    region = models.ForeignKey(Region, verbose_name="région", on_delete=models.PROTECT, related_name="departments")

    class Meta:
        verbose_name = "département"
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Epci(models.Model):
    class Kind(models.TextChoices):
        CC = "CC", "communauté de communes"
        CA = "CA", "communauté d'agglomération"
        CU = "CU", "communauté urbaine"
        METRO = "METRO", "métropole"
        MET69 = "MET69", "Métropole de Lyon"
        EPT = "EPT", "établissement public territorial"

    siren = models.CharField("SIREN", max_length=9, primary_key=True)
    name = models.CharField("nom", max_length=200)
    kind = models.CharField("nature", max_length=5, choices=Kind.choices)

    class Meta:
        verbose_name = "EPCI"
        verbose_name_plural = "EPCI"
        ordering = ["name"]

    def __str__(self):
        return self.name


class CommuneQuerySet(models.QuerySet):
    def search(self, text):
        """Communes matching a name start, a postal code or an INSEE code."""
        text = (text or "").strip()
        if not text:
            return self.none()
        if text.isdigit() or (len(text) == 5 and text[:2].upper() in {"2A", "2B"}):
            return self.filter(Q(code__startswith=text.upper()) | Q(postal_codes__contains=text))
        # The normalised name alone: it starts with the text whenever the name does (case, accents and hyphens
        # aside), and its index serves the search, where « or the name » read all 35,000 communes.
        return self.filter(search_name__startswith=Commune.normalise(text))


class Commune(models.Model):
    class Kind(models.TextChoices):
        COMMUNE = "commune-actuelle", "commune"
        ARRONDISSEMENT = "arrondissement-municipal", "arrondissement municipal"

    code = models.CharField("code INSEE", max_length=5, primary_key=True)
    name = models.CharField("nom", max_length=100)
    search_name = models.CharField("nom normalisé", max_length=100, db_index=True, editable=False)
    kind = models.CharField("type", max_length=24, choices=Kind.choices, default=Kind.COMMUNE)
    department = models.ForeignKey(
        Department, verbose_name="département", on_delete=models.PROTECT, related_name="communes"
    )
    epci = models.ForeignKey(
        Epci, verbose_name="EPCI", on_delete=models.SET_NULL, null=True, blank=True, related_name="communes"
    )
    parent = models.ForeignKey(
        "self",
        verbose_name="commune parente",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="arrondissements",
    )
    population = models.PositiveIntegerField("population municipale", null=True, blank=True)
    postal_codes = models.CharField("codes postaux", max_length=200, blank=True, help_text="séparés par des espaces")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    objects = CommuneQuerySet.as_manager()

    class Meta:
        verbose_name = "commune"
        ordering = ["name", "code"]

    def __str__(self):
        return f"{self.name} ({self.code})"

    def save(self, *args, **kwargs):
        self.search_name = self.normalise(self.name)
        super().save(*args, **kwargs)

    @property
    def label(self):
        """The text a commune field shows and accepts back."""
        return f"{self.name} ({self.code})"

    @property
    def postal_code_list(self):
        return self.postal_codes.split()

    @staticmethod
    def normalise(text):
        import unicodedata

        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return " ".join(text.lower().replace("-", " ").replace("'", " ").split())


class PriorityArea(models.Model):
    """Quartier prioritaire de la politique de la ville (QPV 2024)."""

    code = models.CharField("code QPV", max_length=10, primary_key=True)
    name = models.CharField("nom", max_length=200)
    department = models.ForeignKey(
        Department, verbose_name="département", on_delete=models.PROTECT, related_name="priority_areas"
    )
    communes = models.ManyToManyField(Commune, verbose_name="communes", related_name="priority_areas")

    class Meta:
        verbose_name = "quartier prioritaire (QPV)"
        verbose_name_plural = "quartiers prioritaires (QPV)"
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


# Neighbours of a commune, for proposing QPV: communes of the same département (a structure's QPV must be
# in its département) whose centre lies within this distance of the commune's centre. An EPCI would be
# simpler but the Métropole du Grand Paris or Aix-Marseille-Provence hold over 100 QPV; 5 km offers 3 QPV
# of neighbours in the median commune with QPV and 12 at the 90th percentile (QPV 2024).
NEIGHBOUR_RADIUS_KM = 5
_KM_PER_DEGREE = 111.2


def _distance_km(lat1, lon1, lat2, lon2):
    """Equirectangular distance: exact enough at 5 km, and no trigonometry in the database."""
    x = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return _KM_PER_DEGREE * math.hypot(x, lat2 - lat1)


def priority_areas_around(commune):
    """The QPV to propose for a structure of `commune`: [(area, neighbour name or "")].

    Its own first (those of the commune, or of its parent for an arrondissement: QPV are drawn on Paris,
    Lyon and Marseille as a whole), sorted by name; then those of the neighbours (NEIGHBOUR_RADIUS_KM),
    by neighbour then name, each named after its nearest neighbour. Reference data, which only changes
    with `load_territories` (followed by a restart): read in two queries once per process and commune.
    The areas are shared between requests: read them, never change them.
    """
    key = (commune.code, commune.parent_id, commune.department_id, commune.latitude, commune.longitude)
    return list(_priority_areas_around(*key))


@functools.lru_cache(maxsize=2048)
def _priority_areas_around(code, parent_id, department_id, latitude, longitude):
    own_codes = {code, parent_id} - {None}
    own = list(PriorityArea.objects.filter(communes__in=own_codes).distinct().order_by("name", "code"))
    result = [(area, "") for area in own]
    if latitude is None or longitude is None:
        return tuple(result)
    lat, lon = latitude, longitude
    dlat = NEIGHBOUR_RADIUS_KM / _KM_PER_DEGREE
    dlon = dlat / max(math.cos(math.radians(lat)), 0.1)
    links = (
        PriorityArea.communes.through.objects.filter(
            commune__department_id=department_id,
            commune__latitude__range=(lat - dlat, lat + dlat),
            commune__longitude__range=(lon - dlon, lon + dlon),
        )
        .exclude(commune_id__in=own_codes)
        .exclude(priorityarea_id__in=[a.code for a in own])
        .select_related("priorityarea", "commune")
    )
    nearest = {}
    for link in links:
        c = link.commune
        distance = _distance_km(lat, lon, c.latitude, c.longitude)
        if distance <= NEIGHBOUR_RADIUS_KM and (
            link.priorityarea_id not in nearest or distance < nearest[link.priorityarea_id][0]
        ):
            nearest[link.priorityarea_id] = (distance, link.priorityarea, c.name)
    neighbours = sorted(nearest.values(), key=lambda n: (n[2], n[1].name, n[1].code))
    return tuple(result + [(area, name) for _, area, name in neighbours])
