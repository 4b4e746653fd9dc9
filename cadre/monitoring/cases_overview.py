"""The structure page's tiles for its difficulty reports and its support case, each read in one query."""

from django.db.models import Count, F, Max
from django.urls import reverse

from cadre.accounts.models import WRITE_ROLES
from cadre.agreements.models import Committee, CommitteeMember, FrameworkAgreement
from cadre.core.french import plural
from cadre.monitoring import permissions_cases
from cadre.monitoring.case_models import CaseDocument, CaseNote, DifficultyReport, SupportCase
from cadre.structures.overview import Link

# What `links` reads (tests/test_stamps.py checks it): the case's committee decides who sees it.
READS = [CaseDocument, CaseNote, Committee, CommitteeMember, DifficultyReport, FrameworkAgreement, SupportCase]


def links(structure, user, today):
    found = []
    reports = (
        DifficultyReport.objects.visible_to(user)
        .filter(structure=structure)
        .aggregate(count=Count("pk"), last=Max("created_at"))
    )
    own = user.is_administrator or structure.pk in user.structure_ids(WRITE_ROLES)
    if reports["count"] or own:
        detail = (
            f"{plural(reports['count'], 'signalement')}, le dernier le {reports['last']:%d/%m/%Y}"
            if reports["count"]
            else "Aucun signalement"
        )
        found.append(Link("Signalements de difficulté", reverse("monitoring:reports", args=[structure.uuid]), detail))
    case = (
        SupportCase.objects.visible_to(user)
        .filter(structure=structure)
        .order_by(F("closed_on").asc(nulls_first=True), "-opened_on")
        .first()
    )
    if case is not None and not case.is_closed:
        detail = f"{case.title} : {case.get_status_display().lower()}"
        found.append(Link("Dossier d’accompagnement", reverse("monitoring:case", args=[case.uuid]), detail, alert=True))
    elif permissions_cases.can_open_case(user):  # a member of a support body: from the latest alert, if any
        detail = f"Dernier dossier clos : {case.get_outcome_display().lower()}" if case else "Aucun dossier en cours"
        url = reverse("monitoring:case_create") + f"?structure={structure.uuid}&alerte=1"
        found.append(Link("Ouvrir un dossier d’accompagnement", url, detail))
    elif case is not None:
        detail = f"{case.title} : clos ({case.get_outcome_display().lower()})"
        found.append(Link("Dossier d’accompagnement", reverse("monitoring:case", args=[case.uuid]), detail))
    return found
