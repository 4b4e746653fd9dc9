"""The structure page's tile for its annual accounts."""

from django.urls import reverse

from cadre.core.french import plural
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import FinancialStatement
from cadre.structures.overview import Link


def links(structure, user, today):
    """Whoever sees the structure sees its accounts (FinancialStatement.visible_to): no right to check. One
    query: a structure has a statement a year."""
    years = list(
        FinancialStatement.objects.filter(structure=structure).order_by("-ends_on").values_list("year", "status")
    )
    if years:
        year, status = years[0]
        detail = f"{plural(len(years), 'exercice')}, le dernier : {year} ({StatementStatus(status).label})"
    else:
        detail = "Aucun exercice saisi"
    return [Link("Comptes annuels", reverse("monitoring:statements", args=[structure.uuid]), detail)]
