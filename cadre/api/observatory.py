"""The observatory: campaigns, their frozen questionnaire, submissions, answers and the review.

Same scope as the pages: a campaign is read through `Campaign.objects.visible_to`, a submission
through `Submission.objects.visible_to` (a structure's staff see their own, partners their
territory), so a submission out of scope is a 404. Every write goes through the observatory's
actions (save_answer, submit_submission, …) and its named rights (permissions.py).
"""

import datetime
import decimal
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponse
from django.utils import timezone
from ninja import Field, Header, Query, Router, Schema
from pydantic import ConfigDict

from cadre.api.errors import ApiError, FieldErrors
from cadre.api.pagination import PageParams, paginate
from cadre.api.schemas import ErrorOut, Page
from cadre.api.territories import known_code
from cadre.api.writes import etag, expected_version, get_or_404
from cadre.observatory import actions, permissions
from cadre.observatory.entry import definition
from cadre.observatory.models import (
    NUMERIC_KINDS,
    TO_REVIEW_STATUSES,
    AnomalyKind,
    AnomalyStatus,
    Campaign,
    CampaignPhase,
    QuestionKind,
    RuleLevel,
    Submission,
    SubmissionStatus,
)
from cadre.structures.models import StructureKind
from cadre.territories.models import Department

router = Router(tags=["Observatoire"])

CAMPAIGN_NOT_FOUND = "Aucune campagne avec cet identifiant."
NOT_FOUND = "Aucune saisie avec cet identifiant dans votre périmètre."
CANNOT_FILL = (
    "Seuls les contributeurs de la structure (et les administrateurs) peuvent saisir ses réponses : "
    "vous pouvez les consulter mais pas les modifier."
)
CANNOT_SUBMIT = "Seuls les contributeurs de la structure (et les administrateurs) peuvent envoyer son questionnaire."
CANNOT_REOPEN = "Seuls les administrateurs peuvent rouvrir un questionnaire validé."
NOTHING_DONE = "Rien n'a été fait."
IF_MATCH = Header(None, alias="If-Match", description='Version de la saisie lue (ETag), par exemple "3".')


# -- shapes --------------------------------------------------------------------------------------

Number = int | float
Value = Number | bool | str | list[str] | None


def number(value):
    """A stored decimal as a JSON number: an integer when it has no fractional part."""
    if value is None:
        return None
    value = decimal.Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def json_value(question, value):
    return number(value) if question.kind in NUMERIC_KINDS and value is not None else value


class QuestionnaireRefOut(Schema):
    id: UUID
    code: str
    version: int
    title: str

    @staticmethod
    def resolve_id(obj):
        return obj.uuid


class SubmissionCountsOut(Schema):
    """Nombre de saisies de la campagne visibles par vous, par état."""

    total: int = 0
    not_started: int = 0
    draft: int = 0
    submitted: int = 0
    returned: int = 0
    resubmitted: int = 0
    validated: int = 0


class CampaignOut(Schema):
    id: UUID
    year: int = Field(description="Année observée.")
    title: str
    opens_on: datetime.date = Field(description="Ouverture de la saisie.")
    closes_on: datetime.date = Field(description="Clôture de la saisie.")
    opened_at: datetime.datetime | None = Field(description="Date d'ouverture de la campagne (null : en préparation).")
    phase: CampaignPhase
    phase_label: str
    questionnaire: QuestionnaireRefOut
    submissions: SubmissionCountsOut

    @staticmethod
    def resolve_id(obj):
        return obj.uuid

    @staticmethod
    def resolve_phase(obj):
        return obj.phase(timezone.localdate())

    @staticmethod
    def resolve_phase_label(obj):
        return obj.phase(timezone.localdate()).label

    @staticmethod
    def resolve_submissions(obj):
        return obj.submission_counts


class ChoiceOut(Schema):
    code: str
    label: str


class QuestionOut(Schema):
    code: str
    label: str
    help: str
    type: QuestionKind
    unit: str = Field(description="Unité affichée (€ pour un montant, % pour un pourcentage).")
    min: Number | None = Field(description="Valeur minimale acceptée.")
    max: Number | None = Field(description="Valeur maximale acceptée (100 par défaut pour un pourcentage).")
    bounds: str = Field(description="Bornes en clair, par exemple « de 0 à 500 ».")
    required: bool
    choices: list[ChoiceOut]
    shown_if: str = Field(description="Condition pour que la question soit posée (vide : toujours).")
    applies_to: list[StructureKind] = Field(description="Types de structure à qui la question est posée.")
    prefill: bool = Field(description="La réponse de l'an passé est proposée.")

    @staticmethod
    def resolve_help(obj):
        return obj.help_text

    @staticmethod
    def resolve_type(obj):
        return obj.kind

    @staticmethod
    def resolve_unit(obj):
        return obj.display_unit

    @staticmethod
    def resolve_min(obj):
        return number(obj.min_value)

    @staticmethod
    def resolve_max(obj):
        high = obj.max_value
        if high is None and obj.kind == QuestionKind.PERCENTAGE:
            high = 100
        return number(high)

    @staticmethod
    def resolve_bounds(obj):
        return obj.bounds_label


class SectionOut(Schema):
    code: str
    title: str
    description: str
    applies_to: list[StructureKind]
    questions: list[QuestionOut]


class RuleOut(Schema):
    code: str
    level: RuleLevel = Field(description="error : bloque l'envoi ; warning : demande une justification.")
    check: str = Field(description="Condition qui doit être vraie.")
    message: str
    questions: list[str]

    @staticmethod
    def resolve_check(obj):
        return obj.condition

    @staticmethod
    def resolve_questions(obj):
        return obj.question_codes


class CampaignQuestionsOut(Schema):
    """Le questionnaire figé de la campagne : rubriques, questions et règles de cohérence."""

    campaign: UUID
    questionnaire: QuestionnaireRefOut
    sections: list[SectionOut]
    rules: list[RuleOut]


class CampaignRefOut(Schema):
    id: UUID
    year: int
    title: str

    @staticmethod
    def resolve_id(obj):
        return obj.uuid


class StructureRefOut(Schema):
    id: UUID
    name: str
    kind: StructureKind
    commune: str = Field(description="Code INSEE de la commune d'implantation.")
    commune_name: str
    department: str

    @staticmethod
    def resolve_id(obj):
        return obj.uuid

    @staticmethod
    def resolve_commune(obj):
        return obj.commune_id

    @staticmethod
    def resolve_commune_name(obj):
        return obj.commune.name

    @staticmethod
    def resolve_department(obj):
        return obj.commune.department_id


class SubmissionSummaryOut(Schema):
    id: UUID
    campaign: CampaignRefOut
    structure: StructureRefOut
    status: SubmissionStatus
    status_label: str
    version: int = Field(description="Version de la saisie (changée à chaque étape) : à renvoyer dans If-Match.")
    created_at: datetime.datetime
    updated_at: datetime.datetime
    submitted_at: datetime.datetime | None
    validated_at: datetime.datetime | None

    @staticmethod
    def resolve_id(obj):
        return obj.uuid

    @staticmethod
    def resolve_status_label(obj):
        return obj.get_status_display()


class EventOut(Schema):
    from_status: SubmissionStatus
    to_status: SubmissionStatus
    label: str
    by: str | None
    at: datetime.datetime
    comment: str

    @staticmethod
    def resolve_label(obj):
        return f"{obj.get_from_status_display()} → {obj.get_to_status_display()}"

    @staticmethod
    def resolve_by(obj):
        return obj.actor.display_name if obj.actor_id else None


class AnswerOut(Schema):
    value: Value = Field(description="Valeur typée : nombre, booléen, code de choix, liste de codes ou texte.")
    display: str = Field(description="Valeur écrite à la française, comme sur les pages.")
    version: int = Field(description="Version de la réponse : à renvoyer pour la modifier.")
    comment: str = Field(description="Justification d'une alerte.")
    updated_at: datetime.datetime
    updated_by: str | None


class IssueOut(Schema):
    level: RuleLevel
    question: str
    message: str
    rule: str | None


class AnomalyOut(Schema):
    id: UUID
    question: str
    kind: AnomalyKind
    kind_label: str
    status: AnomalyStatus
    status_label: str
    detail: str
    query: str = Field(description="Question posée à la structure.")
    justification: str
    created_at: datetime.datetime
    resolved_at: datetime.datetime | None

    @staticmethod
    def resolve_id(obj):
        return obj.uuid

    @staticmethod
    def resolve_question(obj):
        return obj.question.code

    @staticmethod
    def resolve_kind_label(obj):
        return obj.get_kind_display()

    @staticmethod
    def resolve_status_label(obj):
        return obj.get_status_display()


class SubmissionOut(SubmissionSummaryOut):
    validated_by: str | None
    read_only_reason: str = Field(description="Pourquoi la structure ne peut pas modifier ses réponses maintenant.")
    allowed_actions: list[str] = Field(
        description="Ce que vous pouvez faire maintenant : answers, submit, return, validate, reopen."
    )
    events: list[EventOut] = Field(description="Étapes de la saisie, de la plus ancienne à la plus récente.")
    answers: dict[str, AnswerOut] = Field(description="Réponses enregistrées, par code de question.")
    issues: list[IssueOut] = Field(description="Erreurs et alertes non justifiées des réponses enregistrées.")
    anomalies: list[AnomalyOut] = Field(description="Points à vérifier relevés sur les réponses.")

    @staticmethod
    def resolve_validated_by(obj):
        return obj.validated_by.display_name if obj.validated_by_id else None

    @staticmethod
    def resolve_read_only_reason(obj):
        return obj.read_only

    @staticmethod
    def resolve_allowed_actions(obj):
        return obj.allowed

    @staticmethod
    def resolve_events(obj):
        return obj.event_list

    @staticmethod
    def resolve_answers(obj):
        return obj.answers_by_code

    @staticmethod
    def resolve_issues(obj):
        return obj.issue_list

    @staticmethod
    def resolve_anomalies(obj):
        return obj.anomaly_list


def answer_out(answer):
    question = answer.question
    value = answer.value
    return {
        "value": json_value(question, value),
        "display": question.display(value),
        "version": answer.version,
        "comment": answer.comment,
        "updated_at": answer.updated_at,
        "updated_by": answer.updated_by.display_name if answer.updated_by_id else None,
    }


def issue_out(issue):
    return {
        "level": issue.level,
        "question": issue.question_code,
        "message": issue.message,
        "rule": issue.rule_code or None,
    }


WRITE_CONFIG = ConfigDict(extra="forbid")


class AnswerIn(Schema):
    model_config = WRITE_CONFIG

    value: Any = Field(
        None,
        description="Nombre, booléen, code ou libellé de choix, liste de codes, texte ; « 1 234,5 » ou « 12 % » "
        "sont lus comme sur les pages ; null efface. Absente : la valeur enregistrée est gardée.",
    )
    version: int | None = Field(
        None, ge=0, description="Version de la réponse lue (0 pour une question encore sans réponse)."
    )
    comment: str | None = Field(None, description="Justification d'une alerte ; absente : inchangée.")


class AnswersIn(Schema):
    """Réponses à enregistrer, par code de question : toutes ou aucune."""

    model_config = WRITE_CONFIG

    answers: dict[str, AnswerIn]


class AnswerConflictOut(Schema):
    your_version: int
    version: int = Field(description="Version enregistrée.")
    value: Value
    display: str
    comment: str
    updated_at: datetime.datetime | None
    updated_by: str | None


class AnswersConflictOut(Schema):
    detail: str
    conflicts: dict[str, AnswerConflictOut] = Field(description="Réponses modifiées entre-temps, par code.")


class SubmissionConflictOut(Schema):
    detail: str
    current_version: int
    current_status: SubmissionStatus


class RefusedOut(Schema):
    detail: str
    issues: list[IssueOut] | None = Field(None, description="Pour un envoi refusé : les erreurs et alertes à régler.")
    errors: dict[str, list[str]] | None = None


class StepIn(Schema):
    model_config = WRITE_CONFIG

    comment: str = Field("", description="Commentaire, gardé dans l'historique de la saisie.")
    version: int | None = Field(None, description="Version lue (à défaut de l'en-tête If-Match).")


class ReturnIn(StepIn):
    """Renvoi à la structure : un commentaire, des remarques par question, ou les deux."""

    remarks: dict[str, str] = Field(
        default_factory=dict, description="Remarques par code de question ; chacune devient un point à vérifier."
    )


class ReopenIn(Schema):
    """Réouverture d'un questionnaire validé : la raison est montrée à la structure."""

    model_config = WRITE_CONFIG

    reason: str = Field("", description="Raison de la réouverture (obligatoire).")
    version: int | None = Field(None, description="Version lue (à défaut de l'en-tête If-Match).")


# -- reading -------------------------------------------------------------------------------------


class SubmissionFilters(Schema):
    campaign: UUID | None = Field(None, description="Identifiant de la campagne.")
    year: int | None = Field(None, description="Année observée de la campagne.")
    status: SubmissionStatus | None = Field(None, description="État de la saisie.")
    department: str | None = Field(None, description="Code du département de la structure, par exemple 69.")
    structure: UUID | None = Field(None, description="Identifiant de la structure.")
    to_review: bool | None = Field(
        None, description="true : seulement les saisies que vous relisez (vos départements de correspondant)."
    )


SUMMARY_FIELDS = [
    *("uuid", "status", "version", "created_at", "updated_at", "submitted_at", "validated_at"),
    *("campaign__uuid", "campaign__year", "campaign__title"),
    *("structure__uuid", "structure__name", "structure__kind", "structure__commune__name"),
    "structure__commune__department_id",
]


def visible_submissions(user):
    return Submission.objects.visible_to(user).select_related("campaign", "structure__commune")


def submission_in_scope(user, submission_id):
    submissions = visible_submissions(user).select_related("campaign__questionnaire", "validated_by")
    return get_or_404(submissions, NOT_FOUND, uuid=submission_id)


def attach_counts(user, campaigns):
    """Set `submission_counts` on each campaign: its submissions visible to `user`, by status, in one query."""
    counts = {c.pk: {"total": 0} for c in campaigns}
    rows = (
        Submission.objects.visible_to(user)
        .filter(campaign_id__in=counts)
        .order_by()
        .values_list("campaign_id", "status")
        .annotate(n=Count("pk"))
    )
    for campaign_id, status, n in rows:
        counts[campaign_id][status] = n
        counts[campaign_id]["total"] += n
    for campaign in campaigns:
        campaign.submission_counts = counts[campaign.pk]
    return campaigns


def campaign_in_scope(user, campaign_id):
    campaign = get_or_404(
        Campaign.objects.visible_to(user).select_related("questionnaire"), CAMPAIGN_NOT_FOUND, uuid=campaign_id
    )
    return attach_counts(user, [campaign])[0]


def allowed_actions(user, submission, today):
    found = []
    if permissions.can_edit_answers(user, submission, today):
        found += ["answers", "submit"]
    if submission.status in TO_REVIEW_STATUSES and permissions.can_review(user, submission):
        found += ["return", "validate"]
    if permissions.can_reopen(user, submission):
        found.append("reopen")
    return found


def with_details(user, submission):
    """`submission` with what SubmissionOut shows beyond its own fields."""
    # The questionnaire's version, read once per process (cadre.observatory.entry.definition), gives each answer
    # its question.
    _, questions, rules = definition(submission.campaign.questionnaire)
    by_id = {q.pk: q for q in questions}
    answers = list(submission.answers.select_related("updated_by"))
    for answer in answers:
        answer.question = by_id[answer.question_id]
    answers.sort(key=lambda a: a.question.position)
    today = timezone.localdate()
    submission.answers_by_code = {a.question.code: answer_out(a) for a in answers}
    submission.issue_list = [issue_out(i) for i in actions.submission_issues(submission, questions, rules, answers)]
    submission.event_list = list(submission.events.select_related("actor"))
    submission.anomaly_list = list(submission.anomalies.select_related("question"))
    submission.read_only = submission.read_only_reason(today)
    submission.allowed = allowed_actions(user, submission, today)
    return submission


def detail_response(user, submission_id, response):
    submission = with_details(user, submission_in_scope(user, submission_id))
    response["ETag"] = etag(submission.version)
    return submission


@router.get(
    "/campaigns",
    response={200: Page[CampaignOut], 400: ErrorOut, 401: ErrorOut},
    url_name="campaigns",
    summary="Campagnes de l'observatoire, avec le nombre de saisies visibles par état",
)
def list_campaigns(request, paging: Query[PageParams]):
    page = paginate(Campaign.objects.visible_to(request.user).select_related("questionnaire"), paging)
    attach_counts(request.user, page["results"])
    return page


@router.get(
    "/campaigns/{campaign_id}",
    response={200: CampaignOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    url_name="campaign",
    summary="Une campagne",
)
def get_campaign(request, campaign_id: UUID):
    return campaign_in_scope(request.user, campaign_id)


@router.get(
    "/campaigns/{campaign_id}/questions",
    response={200: CampaignQuestionsOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    url_name="campaign_questions",
    summary="Le questionnaire figé d'une campagne : rubriques, questions, règles",
)
def get_campaign_questions(request, campaign_id: UUID):
    campaign = get_or_404(
        Campaign.objects.visible_to(request.user).select_related("questionnaire"), CAMPAIGN_NOT_FOUND, uuid=campaign_id
    )
    questionnaire = campaign.questionnaire
    # The version a campaign uses never changes in place: read once per process.
    sections, questions, rules = definition(questionnaire)
    return {
        "campaign": campaign.uuid,
        "questionnaire": questionnaire,
        "sections": [
            {
                "code": section.code,
                "title": section.title,
                "description": section.description,
                "applies_to": section.applies_to,
                "questions": [q for q in questions if q.section_id == section.pk],
            }
            for section in sections
        ],
        "rules": rules,
    }


@router.get(
    "/submissions",
    response={200: Page[SubmissionSummaryOut], 400: ErrorOut, 401: ErrorOut},
    url_name="submissions",
    summary="Saisies visibles (celles de votre structure, ou de votre territoire)",
)
def list_submissions(request, filters: Query[SubmissionFilters], paging: Query[PageParams]):
    user = request.user
    submissions = Submission.objects.reviewable_by(user) if filters.to_review else Submission.objects.visible_to(user)
    submissions = submissions.select_related("campaign", "structure__commune")
    if filters.campaign is not None:
        if not Campaign.objects.visible_to(user).filter(uuid=filters.campaign).exists():
            raise FieldErrors({"campaign": [CAMPAIGN_NOT_FOUND]}, detail="Filtres invalides.", status=400)
        submissions = submissions.filter(campaign__uuid=filters.campaign)
    if filters.year is not None:
        submissions = submissions.filter(campaign__year=filters.year)
    if filters.status is not None:
        submissions = submissions.filter(status=filters.status)
    if department := known_code(Department, filters.department, "department", "Département inconnu"):
        submissions = submissions.filter(structure__commune__department_id=department)
    if filters.structure is not None:
        submissions = submissions.filter(structure__uuid=filters.structure)
    submissions = submissions.order_by("-campaign__year", "structure__name").only(*SUMMARY_FIELDS)
    return paginate(submissions, paging)


@router.get(
    "/submissions/{submission_id}",
    response={200: SubmissionOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    url_name="submission",
    summary="Une saisie : état, étapes, réponses, erreurs et points à vérifier (en-tête ETag : sa version)",
)
def get_submission(request, submission_id: UUID, response: HttpResponse):
    return detail_response(request.user, submission_id, response)


# -- answers -------------------------------------------------------------------------------------


def not_asked(question, structure_kind):
    if question.applies(structure_kind) and question.section.applies(structure_kind):
        return ""
    kind = StructureKind(structure_kind).label.lower()
    return f"La question « {question.code} » n'est pas posée aux structures de type « {kind} »."


def answers_conflict(stale, stored):
    codes = ", ".join(stale)
    conflicts = {}
    for code, your_version in stale.items():
        answer = stored.get(code)
        conflicts[code] = {
            "your_version": your_version,
            **(
                answer_out(answer)
                if answer is not None
                else {"value": None, "display": "", "version": 0, "comment": "", "updated_at": None, "updated_by": None}
            ),
        }
    plural = len(stale) > 1
    return ApiError(
        409,
        f"{'Ces réponses ont été modifiées' if plural else 'Cette réponse a été modifiée'} par quelqu'un d'autre "
        f"depuis votre lecture : {codes}. Rien n'a été enregistré : relisez la saisie puis renvoyez vos changements.",
        conflicts=conflicts,
    )


def refuse_answers(user, submission, today):
    if not permissions.can_edit_answers(user, submission, today):
        raise ApiError(
            403, submission.read_only_reason(today) if permissions.can_fill(user, submission) else CANNOT_FILL
        )


@router.patch(
    "/submissions/{submission_id}/answers",
    response={
        200: SubmissionOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: AnswersConflictOut,
        422: ErrorOut,
        428: ErrorOut,
    },
    url_name="submission_answers",
    summary="Enregistrer des réponses (toutes ou aucune ; la version de chaque réponse est obligatoire)",
)
def save_answers(request, submission_id: UUID, payload: AnswersIn, response: HttpResponse):
    user = request.user
    submission = submission_in_scope(user, submission_id)
    today = timezone.localdate()
    refuse_answers(user, submission, today)
    entries = payload.answers
    if not entries:
        raise FieldErrors({"answers": ["Envoyez au moins une réponse."]})
    questions = {
        q.code: q
        for q in submission.campaign.questionnaire.questions.select_related("section").filter(code__in=entries)
    }
    kind = submission.structure.kind
    errors = {}
    for code in entries:
        question = questions.get(code)
        if question is None:
            errors[code] = [f"Question inconnue : « {code} » n'est pas un code du questionnaire de la campagne."]
        elif reason := not_asked(question, kind):
            errors[code] = [reason]
    if errors:
        raise FieldErrors(errors)
    missing = [code for code, entry in entries.items() if entry.version is None]
    if missing:
        raise ApiError(
            428,
            f"Version manquante pour : {', '.join(missing)}. Envoyez, pour chaque réponse, la « version » lue par GET "
            "(0 pour une question encore sans réponse), pour ne pas écraser sans le savoir une réponse modifiée "
            "entre-temps. Rien n'a été enregistré.",
        )
    with transaction.atomic():
        # Every save_answer locks the submission first: holding it, nobody else's answer can land meanwhile.
        # Only the submission's row: the campaign's is shared by every structure.
        locked = (
            Submission.objects.select_for_update(of=("self",))
            .select_related("campaign", "structure")
            .get(pk=submission.pk)
        )
        refuse_answers(user, locked, today)
        stored = {
            a.question.code: a
            for a in locked.answers.filter(question__code__in=entries).select_related("question", "updated_by")
        }
        stale = {
            code: entry.version
            for code, entry in entries.items()
            if entry.version != (stored[code].version if code in stored else 0)
        }
        if stale:
            raise answers_conflict(stale, stored)
        raws = {}
        for code, entry in entries.items():
            if "value" in entry.model_fields_set:
                raws[code] = entry.value
            else:
                raws[code] = stored[code].value if code in stored else None
            try:
                questions[code].parse(raws[code])
            except ValidationError as error:
                errors[code] = list(error.messages)
        if errors:
            raise FieldErrors(errors)
        for code, entry in entries.items():
            actions.save_answer(
                locked,
                questions[code],
                raws[code],
                actor=user,
                expected_version=entry.version,
                comment=entry.comment,
            )
    return detail_response(user, submission_id, response)


# -- review steps --------------------------------------------------------------------------------


def stale_submission(submission, expected):
    current, status = Submission.objects.values_list("version", "status").get(pk=submission.pk)
    return ApiError(
        409,
        f"Ce questionnaire a changé depuis la version {expected} que vous avez lue (version actuelle : {current}, "
        f"état « {SubmissionStatus(status).label} »). {NOTHING_DONE} Relisez-le puis recommencez.",
        headers={"ETag": etag(current)},
        current_version=current,
        current_status=status,
    )


def cannot_step(submission, to_status):
    return ApiError(
        409,
        f"Un questionnaire « {submission.get_status_display()} » ne peut pas passer à "
        f"« {SubmissionStatus(to_status).label} ». {NOTHING_DONE}",
        headers={"ETag": etag(submission.version)},
        current_version=submission.version,
        current_status=submission.status,
    )


def run_step(submission, expected, step, **kwargs):
    """Make the review step `step` (an action of actions.py) expecting `expected`; French errors."""
    if submission.version != expected:
        raise stale_submission(submission, expected)
    try:
        step(submission, expected_version=expected, **kwargs)
    except actions.TransitionRefused as refused:
        if Submission.objects.values_list("version", flat=True).get(pk=submission.pk) != expected:
            raise stale_submission(submission, expected)  # moved on between our reading and the lock
        body = {"issues": [issue_out(i) for i in refused.issues]} if refused.issues else {}
        raise ApiError(422, str(refused), **body)


def cannot_review(submission):
    department = submission.structure.commune.department_id
    return ApiError(
        403,
        f"Seuls les correspondants de l'observatoire {submission.campaign.year} pour le département {department} "
        "(et les administrateurs) peuvent renvoyer ou valider ce questionnaire : vous pouvez le consulter.",
    )


STEP_RESPONSES = {
    200: SubmissionOut,
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: SubmissionConflictOut,
    422: RefusedOut,
    428: ErrorOut,
}


@router.post(
    "/submissions/{submission_id}/submit",
    response=STEP_RESPONSES,
    url_name="submission_submit",
    summary="Envoyer le questionnaire (structure ; en-tête If-Match obligatoire)",
)
def submit(
    request,
    submission_id: UUID,
    response: HttpResponse,
    payload: StepIn | None = None,
    if_match: str | None = IF_MATCH,
):
    user = request.user
    payload = payload or StepIn()
    submission = submission_in_scope(user, submission_id)
    today = timezone.localdate()
    if not permissions.can_submit(user, submission, today):
        reason = submission.read_only_reason(today) if permissions.can_fill(user, submission) else CANNOT_SUBMIT
        raise ApiError(403, reason)
    expected = expected_version(if_match, payload.version)
    run_step(submission, expected, actions.submit_submission, actor=user, comment=payload.comment)
    return detail_response(user, submission_id, response)


def remarks_by_question(submission, remarks):
    """{Question: text} of a return's remarks given by question code; 422 naming unknown codes."""
    questions = {q.code: q for q in submission.campaign.questionnaire.questions.filter(code__in=remarks)}
    unknown = [code for code in remarks if code not in questions]
    if unknown:
        raise FieldErrors(
            {"remarks": [f"Question inconnue : « {code} » n'est pas un code du questionnaire." for code in unknown]}
        )
    return {questions[code]: text for code, text in remarks.items()}


def review_step(request, submission_id, response, payload, if_match, to_status, step, **kwargs):
    """Return or validate: the campaign's correspondants of the structure's département, and administrators."""
    user = request.user
    submission = submission_in_scope(user, submission_id)
    if not permissions.can_review(user, submission):
        raise cannot_review(submission)
    expected = expected_version(if_match, payload.version)
    if submission.version != expected:
        raise stale_submission(submission, expected)
    # TRANSITIONS also lets a validated submission go back to the structure: that is `reopen`, not a review step.
    if submission.status not in TO_REVIEW_STATUSES:
        raise cannot_step(submission, to_status)
    if "remarks" in kwargs:
        kwargs["remarks"] = remarks_by_question(submission, kwargs["remarks"])
    run_step(submission, expected, step, actor=user, comment=payload.comment, **kwargs)
    return detail_response(user, submission_id, response)


@router.post(
    "/submissions/{submission_id}/return",
    response=STEP_RESPONSES,
    url_name="submission_return",
    summary="Renvoyer le questionnaire à la structure (correspondant ; en-tête If-Match obligatoire)",
)
def return_to_structure(
    request,
    submission_id: UUID,
    response: HttpResponse,
    payload: ReturnIn | None = None,
    if_match: str | None = IF_MATCH,
):
    payload = payload or ReturnIn()
    return review_step(
        request,
        submission_id,
        response,
        payload,
        if_match,
        SubmissionStatus.RETURNED,
        actions.return_submission,
        remarks=payload.remarks,
    )


@router.post(
    "/submissions/{submission_id}/validate",
    response=STEP_RESPONSES,
    url_name="submission_validate",
    summary="Valider le questionnaire (correspondant ; en-tête If-Match obligatoire)",
)
def validate(
    request,
    submission_id: UUID,
    response: HttpResponse,
    payload: StepIn | None = None,
    if_match: str | None = IF_MATCH,
):
    payload = payload or StepIn()
    return review_step(
        request, submission_id, response, payload, if_match, SubmissionStatus.VALIDATED, actions.validate_submission
    )


@router.post(
    "/submissions/{submission_id}/reopen",
    response=STEP_RESPONSES,
    url_name="submission_reopen",
    summary="Rouvrir un questionnaire validé (administrateurs ; en-tête If-Match obligatoire)",
)
def reopen(
    request,
    submission_id: UUID,
    response: HttpResponse,
    payload: ReopenIn | None = None,
    if_match: str | None = IF_MATCH,
):
    user = request.user
    payload = payload or ReopenIn()
    submission = submission_in_scope(user, submission_id)
    if not permissions.can_reopen(user, submission):
        # Reopening is the data manager's decision; the data manager is refused only by the state.
        if not permissions.can_manage_campaigns(user):
            raise ApiError(403, CANNOT_REOPEN)
        expected = expected_version(if_match, payload.version)
        if submission.version != expected:
            raise stale_submission(submission, expected)
        raise cannot_step(submission, SubmissionStatus.RETURNED)
    expected = expected_version(if_match, payload.version)
    run_step(submission, expected, actions.reopen_submission, actor=user, reason=payload.reason)
    return detail_response(user, submission_id, response)
