"""Official French geography (INSEE COG 2026, DGCL EPCI 2026, ANCT QPV 2024)."""

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
        return self.filter(Q(name__istartswith=text) | Q(search_name__startswith=Commune.normalise(text)))


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
