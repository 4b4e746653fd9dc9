"""Accounts started from the observatory: the questionnaire's « Finances » section asks, for the year of the
data, the income by funder, the staff costs, the total expenses and the result. A structure entering the same
fiscal year starts from those answers instead of typing them twice."""

from cadre.funding.models import euros
from cadre.observatory.models import Answer, Submission, SubmissionStatus

# Question code of the questionnaire → field of the statement.
FROM_QUESTIONS = {
    "caf_prestation_service": "subsidy_caf_service",
    "caf_autres": "subsidy_caf_other",
    "etat": "subsidy_state",
    "region": "subsidy_region",
    "departement": "subsidy_department",
    "commune_intercommunalite": "subsidy_municipal",
    "msa": "subsidy_msa",
    "carsat": "subsidy_carsat",
    "autres_financeurs": "subsidy_other",
    "participation_usagers": "users_contributions",
    "charges_personnel": "staff_costs",
    "resultat_exercice": "net_result",
}
TOTAL_EXPENSES = "budget_total"


def from_observatory(structure, year):
    """(initial form values, the campaign's title) from the structure's questionnaire of `year`, the most
    advanced one when there are several; ({}, None) when it has none with finance answers."""
    submission = (
        Submission.objects.filter(structure=structure, campaign__year=year)
        .exclude(status=SubmissionStatus.NOT_STARTED)
        .select_related("campaign")
        .order_by("-updated_at")
        .first()
    )
    if submission is None:
        return {}, None
    numbers = dict(
        Answer.objects.filter(
            submission=submission, question__code__in=[*FROM_QUESTIONS, TOTAL_EXPENSES], number__isnull=False
        ).values_list("question__code", "number")
    )
    initial = {field: euros(numbers[code]) for code, field in FROM_QUESTIONS.items() if code in numbers}
    if not initial:
        return {}, None
    if "net_result" in initial:
        initial["balance_result"] = initial["net_result"]
    if TOTAL_EXPENSES in numbers and "staff_costs" in initial:
        # The questionnaire gives the other expenses as one total: they start in « other external charges ».
        initial["external_charges"] = euros(numbers[TOTAL_EXPENSES]) - initial["staff_costs"]
    return initial, submission.campaign.title
