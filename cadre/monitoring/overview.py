"""The structure page's tiles for its annual accounts and its financial health."""

from django.urls import reverse

from cadre.core.french import plural
from cadre.monitoring.alert_models import HealthStatus
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import FinancialStatement
from cadre.structures.overview import Link

READS = [FinancialStatement, HealthStatus]  # what `links` reads (tests/test_stamps.py checks it)


def links(structure, user, today):
    """Whoever sees the structure sees its accounts (FinancialStatement.visible_to) and its health: no right to
    check. Two queries: a structure has a statement and a status a year."""
    years = list(
        FinancialStatement.objects.filter(structure=structure).order_by("-ends_on").values_list("year", "status")
    )
    if years:
        year, status = years[0]
        detail = f"{plural(len(years), 'exercice')}, le dernier : {year} ({StatementStatus(status).label})"
    else:
        detail = "Aucun exercice saisi"
    latest = HealthStatus.objects.filter(structure=structure).order_by("-year").first()
    if latest is None:
        health = "Aucun état calculé"
    else:
        health = f"{latest.year} : {latest.get_level_display()}"
        if latest.facts:
            health += f" ({plural(len(latest.facts), 'fait relevé,faits relevés')})"
    return [
        Link("Comptes annuels", reverse("monitoring:statements", args=[structure.uuid]), detail),
        Link("Santé financière et alertes", reverse("monitoring:health", args=[structure.uuid]), health),
    ]
