"""Observatory workflows that write several models at once, each in one transaction."""

import decimal

from django.conf import settings
from django.core import mail
from django.db import models, transaction
from django.utils import timezone

from cadre.accounts.models import WRITE_ROLES, Membership
from cadre.core.french import of, plural
from cadre.observatory import definitions
from cadre.observatory.models import (
    DETECTED_KINDS,
    NOT_SENT_STATUSES,
    NUMERIC_KINDS,
    TO_REVIEW_STATUSES,
    TRANSITIONS,
    Anomaly,
    AnomalyKind,
    AnomalyStatus,
    Answer,
    Correspondent,
    Question,
    QuestionKind,
    Questionnaire,
    Rule,
    Section,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
    check_answers,
    format_number,
)
from cadre.observatory.signals import validated_answers_changed
from cadre.partners.models import PartnerKind
from cadre.structures.models import Structure, StructureKind
from cadre.territories.models import Department

ALL_KINDS = [kind for kind, _ in StructureKind.choices]


class QuestionnaireInUse(ValueError):
    pass


def load_questionnaire(path):
    """Load a questionnaire file; returns (questionnaire, what happened: "created", "unchanged", "replaced").

    A version used by a campaign is frozen: changing its file is refused (make a new version).
    """
    data, digest = definitions.read(path)
    with transaction.atomic():
        existing = Questionnaire.objects.select_for_update().filter(code=data["code"], version=data["version"]).first()
        if existing is not None:
            if existing.digest == digest:
                return existing, "unchanged"
            if existing.campaigns.exists():
                raise QuestionnaireInUse(
                    f"La version {data['version']} du questionnaire « {data['code']} » sert déjà à une campagne : "
                    "elle ne peut plus changer. Donnez une nouvelle version au fichier (version = "
                    f"{data['version'] + 1})."
                )
            existing.delete()
        questionnaire = Questionnaire.objects.create(
            code=data["code"],
            version=data["version"],
            title=data["title"].strip(),
            description=data.get("description", "").strip(),
            digest=digest,
        )
        _create_parts(questionnaire, data)
    return questionnaire, "replaced" if existing is not None else "created"


def _create_parts(questionnaire, data):
    position = 0
    questions = []
    for section_position, section_data in enumerate(data["sections"], start=1):
        section_kinds = section_data.get("applies_to") or ALL_KINDS
        section = Section.objects.create(
            questionnaire=questionnaire,
            code=section_data["code"],
            position=section_position,
            title=section_data["title"].strip(),
            description=section_data.get("description", "").strip(),
            applies_to=section_kinds,
            registry=section_data.get("registry", []),
        )
        for item in section_data["questions"]:
            position += 1
            questions.append(
                Question(
                    questionnaire=questionnaire,
                    section=section,
                    code=item["code"],
                    position=position,
                    kind=item["type"],
                    label=item["label"].strip(),
                    help_text=item.get("help", "").strip(),
                    unit=item.get("unit", ""),
                    required=bool(item.get("required", False)),
                    min_value=_decimal(item.get("min")),
                    max_value=_decimal(item.get("max")),
                    choices=[{"code": c["code"], "label": c["label"].strip()} for c in item.get("choices", [])],
                    shown_if=item.get("shown_if", ""),
                    prefill=bool(item.get("prefill", False)),
                    change_threshold=_decimal(item.get("change_threshold")),
                    applies_to=item.get("applies_to") or section_kinds,
                )
            )
    Question.objects.bulk_create(questions)
    Rule.objects.bulk_create(
        Rule(
            questionnaire=questionnaire,
            code=rule["code"],
            position=number,
            level=rule["level"],
            condition=rule["check"],
            message=rule["message"].strip(),
            question_codes=rule["questions"],
        )
        for number, rule in enumerate(data.get("rules", []), start=1)
    )


def _decimal(value):
    return None if value is None else decimal.Decimal(repr(value))


class CampaignAlreadyOpen(ValueError):
    pass


def open_campaign(campaign, *, actor):
    """Open `campaign`: one submission per structure observed in its year, and an e-mail to each
    structure's contributors once the transaction is committed. Returns the submissions created."""
    with transaction.atomic():
        campaign = type(campaign).objects.select_for_update().get(pk=campaign.pk)
        if campaign.opened_at is not None:
            raise CampaignAlreadyOpen(
                f"La campagne « {campaign} » est déjà ouverte depuis le {campaign.opened_at:%d/%m/%Y}."
            )
        structures = list(Structure.objects.observed_in(campaign.year).filter(closed_on__isnull=True))
        submissions = Submission.objects.bulk_create(Submission(campaign=campaign, structure=s) for s in structures)
        campaign.opened_at = timezone.now()
        campaign.save(update_fields=["opened_at"])
        transaction.on_commit(lambda: send_opening_emails(campaign, structures))
    return submissions


def send_opening_emails(campaign, structures):
    """One e-mail per contributor of the structures, sent in one connection."""
    memberships = Membership.objects.filter(structure__in=structures, role__in=WRITE_ROLES, user__is_active=True)
    messages = [
        mail.EmailMessage(
            subject=f"Observatoire {campaign.year} : votre questionnaire est ouvert",
            body=(
                f"Bonjour,\n\nLa campagne « {campaign.title} » est ouverte : le questionnaire de "
                f"{membership.structure.name} sur l'année {campaign.year} est à remplir avant le "
                f"{campaign.closes_on:%d/%m/%Y}.\n\nVos réponses sont enregistrées au fil de la saisie ; vous pouvez "
                f"vous interrompre et reprendre plus tard.\n\n{settings.CADRE_OPERATOR['name']}"
            ),
            to=[membership.user.email],
        )
        for membership in memberships.select_related("user", "structure").order_by("structure__name", "user__email")
    ]
    if messages:
        mail.get_connection().send_messages(messages)
    return len(messages)


# -- answers -------------------------------------------------------------------------------------


class AnswerConflict(Exception):
    """The answer changed after the version the person read; `answer` is the stored one."""

    def __init__(self, answer):
        super().__init__("Cette réponse a été modifiée entre-temps.")
        self.answer = answer


def _step(submission, to_status, *, actor, comment="", at=None):
    """Move `submission` (locked by the caller) to `to_status` and record the step."""
    SubmissionEvent.objects.create(
        submission=submission, from_status=submission.status, to_status=to_status, actor=actor, comment=comment
    )
    submission.status = to_status
    submission.version += 1


def _locked(submission):
    # Only the submission's row: locking its campaign too would queue every save of the campaign.
    return (
        Submission.objects.select_for_update(of=("self",)).select_related("campaign", "structure").get(pk=submission.pk)
    )


def save_answer(submission, question, raw, *, actor, expected_version=None, comment=None):
    """Store one answer as typed (`raw`); returns the Answer (None once emptied and never written).

    ValidationError (French) when `raw` cannot be read; AnswerConflict when `expected_version` is
    not the stored one (someone else saved meanwhile). A first answer moves the submission to draft.
    `comment` (a warning's justification) is kept as given when not None.
    """
    value = question.parse(raw)
    with transaction.atomic():
        locked = _locked(submission)
        answer = Answer.objects.select_for_update().filter(submission=locked, question=question).first()
        current = answer.version if answer is not None else 0
        if expected_version is not None and expected_version != current:
            raise AnswerConflict(answer)
        if answer is None:
            if value is None and not comment:
                return None
            answer = Answer(submission=locked, question=question, version=0)
        answer.value = value
        if comment is not None:
            answer.comment = comment.strip()
        answer.version += 1
        answer.updated_by = actor
        answer.save()
        if locked.status == SubmissionStatus.NOT_STARTED:
            _step(locked, SubmissionStatus.DRAFT, actor=actor)
            locked.save(update_fields=["status", "version", "updated_at"])
        else:
            Submission.objects.filter(pk=locked.pk).update(updated_at=timezone.now())
    submission.status, submission.version = locked.status, locked.version
    return answer


def submission_issues(submission, questions=None, rules=None, answers=None):
    """The errors and warnings of a submission's stored answers (see check_answers). The questions, rules
    and answers (with their question) are read here unless the caller already has them."""
    questionnaire = submission.campaign.questionnaire
    if questions is None:
        questions = list(questionnaire.questions.select_related("section"))
    if rules is None:
        rules = list(questionnaire.rules.all())
    if answers is None:
        answers = list(submission.answers.select_related("question"))
    values = {a.question.code: a.value for a in answers}
    comments = {a.question.code: a.comment for a in answers if a.comment}
    return check_answers(questions, rules, submission.structure.kind, values, comments)


# -- the review ----------------------------------------------------------------------------------


class TransitionRefused(ValueError):
    """A review step that cannot be made now; the message (French) says why."""

    def __init__(self, message, issues=()):
        super().__init__(message)
        self.issues = list(issues)


def _check_step(submission, to_status, expected_version):
    if expected_version is not None and submission.version != expected_version:
        raise TransitionRefused(
            "Ce questionnaire a changé d'état pendant votre lecture (il est maintenant "
            f"« {submission.get_status_display()} ») : rien n'a été fait, vérifiez puis recommencez."
        )
    if (submission.status, to_status) not in TRANSITIONS:
        raise TransitionRefused(
            f"Un questionnaire « {submission.get_status_display()} » ne peut pas passer à "
            f"« {SubmissionStatus(to_status).label} »."
        )


def submit_submission(submission, *, actor, comment="", expected_version=None):
    """The structure sends its answers: refused while an error or an unjustified warning remains."""
    with transaction.atomic():
        locked = _locked(submission)
        target = (
            SubmissionStatus.RESUBMITTED if locked.status == SubmissionStatus.RETURNED else SubmissionStatus.SUBMITTED
        )
        _check_step(locked, target, expected_version)
        issues = submission_issues(locked)
        if issues:
            errors = sum(1 for i in issues if i.is_error)
            warnings = len(issues) - errors
            parts = [f"{errors} erreur{'s' if errors > 1 else ''}"] if errors else []
            if warnings:
                parts.append(f"{warnings} alerte{'s' if warnings > 1 else ''} sans justification")
            raise TransitionRefused(
                f"Le questionnaire ne peut pas encore être envoyé : {' et '.join(parts)}.", issues=issues
            )
        _step(locked, target, actor=actor, comment=comment)
        locked.submitted_at = timezone.now()
        locked.save(update_fields=["status", "version", "submitted_at", "updated_at"])
        _settle_remarks(locked, actor)
        detect_anomalies(locked, actor=actor)
    return locked


def return_submission(submission, *, actor, comment="", remarks=None, expected_version=None):
    """A correspondant sends the answers back: `remarks` ({Question: text}) become work items for the
    structure, with every anomaly already queried. A return says why: a comment, a remark or a query."""
    remarks = {q: t.strip() for q, t in (remarks or {}).items() if t and t.strip()}
    with transaction.atomic():
        locked = _locked(submission)
        _check_step(locked, SubmissionStatus.RETURNED, expected_version)
        if locked.status not in TO_REVIEW_STATUSES:  # validated → returned is the administrator's reopening
            raise TransitionRefused("Seul un questionnaire envoyé peut être renvoyé à la structure.")
        queried = locked.anomalies.filter(status=AnomalyStatus.QUERIED).exists()
        if not (comment.strip() or remarks or queried):
            raise TransitionRefused(
                "Dites à la structure ce qu'il faut revoir : un commentaire, une remarque sur une question ou une "
                "question sur un point à vérifier."
            )
        now = timezone.now()
        for question, text in remarks.items():
            Anomaly.objects.create(
                submission=locked,
                question=question,
                kind=AnomalyKind.REVIEWER,
                status=AnomalyStatus.QUERIED,
                detail=text[:500],
                query=text,
                queried_by=actor,
                queried_at=now,
                value_seen=_number_of(locked, question),
            )
        _step(locked, SubmissionStatus.RETURNED, actor=actor, comment=comment.strip())
        locked.save(update_fields=["status", "version", "updated_at"])
        transaction.on_commit(lambda: _send_return_email(locked, comment.strip(), len(remarks)))
    return locked


def validate_submission(submission, *, actor, comment="", expected_version=None):
    """A correspondant validates: every point to check must first be corrected or justified."""
    with transaction.atomic():
        locked = _locked(submission)
        _check_step(locked, SubmissionStatus.VALIDATED, expected_version)
        unresolved = locked.anomalies.unresolved().count()
        if unresolved:
            raise TransitionRefused(
                f"{plural(unresolved, 'point')} à vérifier {plural(unresolved, 'reste,restent', with_number=False)} "
                f"{plural(unresolved, 'ouvert', with_number=False)} : réglez-les (justifiés ou corrigés) ou "
                "renvoyez le questionnaire à la structure."
            )
        _step(locked, SubmissionStatus.VALIDATED, actor=actor, comment=comment.strip())
        locked.validated_at, locked.validated_by = timezone.now(), actor
        locked.save(update_fields=["status", "version", "validated_at", "validated_by", "updated_at"])
        validated_answers_changed.send(sender=Submission, submission=locked)
    return locked


def reopen_submission(submission, *, actor, reason, expected_version=None):
    """An administrator reopens a validated submission (back to the structure), saying why."""
    if not reason or not reason.strip():
        raise TransitionRefused("Indiquez la raison de la réouverture : elle est montrée à la structure.")
    with transaction.atomic():
        locked = _locked(submission)
        if locked.status != SubmissionStatus.VALIDATED:
            raise TransitionRefused("Seul un questionnaire validé peut être rouvert.")
        _check_step(locked, SubmissionStatus.RETURNED, expected_version)
        _step(locked, SubmissionStatus.RETURNED, actor=actor, comment=f"Réouverture : {reason.strip()}")
        locked.validated_at, locked.validated_by = None, None
        locked.save(update_fields=["status", "version", "validated_at", "validated_by", "updated_at"])
        validated_answers_changed.send(sender=Submission, submission=locked)
    return locked


def _send_return_email(submission, comment, remark_count):
    memberships = Membership.objects.filter(
        structure=submission.structure, role__in=WRITE_ROLES, user__is_active=True
    ).select_related("user")
    recipients = sorted(m.user.email for m in memberships)
    if not recipients:
        return 0
    waiting = plural(remark_count, "attend,attendent", with_number=False)
    points = f"\n\n{plural(remark_count, 'remarque')} sur des questions vous {waiting}." if remark_count else ""
    said = f"\n\nCommentaire du correspondant :\n{comment}" if comment else ""
    mail.EmailMessage(
        subject=f"Observatoire {submission.campaign.year} : votre questionnaire vous est renvoyé",
        body=(
            f"Bonjour,\n\nLe questionnaire {of(submission.structure.name)} pour l'année {submission.campaign.year} "
            f"vous est renvoyé pour correction.{said}{points}\n\nUne fois les corrections faites, envoyez-le à "
            f"nouveau.\n\n{settings.CADRE_OPERATOR['name']}"
        ),
        to=recipients,
    ).send()
    return len(recipients)


# -- anomalies -----------------------------------------------------------------------------------

# Changes between small counts (3 → 7 volunteers) say nothing: both values under this are not compared.
SMALL_VALUE = decimal.Decimal(10)
# Territory bounds need this many other answers to mean something.
MIN_REFERENCE_VALUES = 8
# Tukey's far-out fences: outside [Q1 − 3·IQR, Q3 + 3·IQR].
FENCE = decimal.Decimal(3)


def _number_of(submission, question):
    return Answer.objects.filter(submission=submission, question=question).values_list("number", flat=True).first()


def _quartiles(values):
    values = sorted(values)

    def at(fraction):
        position = fraction * (len(values) - 1)
        low = int(position)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * decimal.Decimal(position - low)

    return at(decimal.Decimal("0.25")), at(decimal.Decimal("0.75"))


def _reference_values(submission, numeric_codes):
    """{question code: [numbers]} of the other structures of the same kind and département, this year
    (submitted or validated) and last year (validated)."""
    campaign = submission.campaign
    structure = submission.structure
    department = structure.commune.department_id
    campaigns = [campaign.pk]
    previous = campaign.previous()
    if previous is not None:
        campaigns.append(previous.pk)
    rows = (
        Answer.objects.filter(
            submission__campaign_id__in=campaigns,
            submission__structure__kind=structure.kind,
            submission__structure__commune__department_id=department,
            submission__status__in=[*TO_REVIEW_STATUSES, SubmissionStatus.VALIDATED],
            question__code__in=numeric_codes,
            number__isnull=False,
        )
        .exclude(submission__structure_id=structure.pk)
        .values_list("question__code", "number")
    )
    found = {}
    for code, number in rows:
        found.setdefault(code, []).append(number)
    return found


def _previous_numbers(submission):
    previous = submission.campaign.previous()
    if previous is None:
        return {}
    return dict(
        Answer.objects.filter(
            submission__campaign=previous,
            submission__structure_id=submission.structure_id,
            submission__status=SubmissionStatus.VALIDATED,
            number__isnull=False,
        ).values_list("question__code", "number")
    )


def bounds_detail(question, value, low, high, count):
    """The finding of a value outside the département's fences, in French."""
    unit = f" {question.display_unit}" if question.display_unit else ""
    step = decimal.Decimal(1) if question.kind == QuestionKind.INTEGER else decimal.Decimal("0.1")
    shown_low = decimal.Decimal(max(low, 0) if value >= 0 else low)
    return (
        f"{format_number(value)}{unit} : hors des valeurs habituelles des structures comparables du département "
        f"({format_number(shown_low.quantize(step))} à {format_number(decimal.Decimal(high).quantize(step))}{unit}, "
        f"sur {count} réponses)."
    )


def change_detail(question, before, value, change):
    """The finding of a large change since last year (`change`: a share, None from zero), in French."""
    unit = f" {question.display_unit}" if question.display_unit else ""
    sign = "+" if change and change > 0 else ""
    share = "" if change is None else f" ({sign}{format_number(round(change * 100))} %)"
    return f"{format_number(before)}{unit} l'an passé, {format_number(value)}{unit} cette année{share}."


def find_anomalies(submission):
    """{(question id, kind): (detail, value)} of the answers that look wrong now."""
    answers = [
        a
        for a in submission.answers.select_related("question").filter(number__isnull=False)
        if a.question.kind in NUMERIC_KINDS
    ]
    if not answers:
        return {}
    codes = [a.question.code for a in answers]
    references = _reference_values(submission, codes)
    last_year = _previous_numbers(submission)
    default_threshold = submission.campaign.change_threshold
    found = {}
    for answer in answers:
        question, value = answer.question, answer.number
        others = references.get(question.code, [])
        if len(others) >= MIN_REFERENCE_VALUES:
            q1, q3 = _quartiles(others)
            spread = q3 - q1
            low, high = q1 - FENCE * spread, q3 + FENCE * spread
            if spread > 0 and not low <= value <= high:
                found[(question.pk, AnomalyKind.TERRITORY_BOUNDS)] = (
                    bounds_detail(question, value, low, high, len(others)),
                    value,
                )
        before = last_year.get(question.code)
        if before is not None and max(abs(before), abs(value)) >= SMALL_VALUE:
            threshold = question.change_threshold or default_threshold
            change = (value - before) / abs(before) if before else None
            if change is None or abs(change) > threshold:
                found[(question.pk, AnomalyKind.YEARLY_CHANGE)] = (
                    change_detail(question, before, value, change),
                    value,
                )
    return found


def detect_anomalies(submission, *, actor=None):
    """Bring the detected anomalies of `submission` up to date: new ones are opened, those that no
    longer hold are closed as corrected, justified ones keep their justification. Returns the count open."""
    found = find_anomalies(submission)
    now = timezone.now()
    existing = {
        (a.question_id, a.kind): a for a in submission.anomalies.filter(kind__in=[k.value for k in DETECTED_KINDS])
    }
    for key, (detail, value) in found.items():
        anomaly = existing.get(key)
        if anomaly is None:
            Anomaly.objects.create(
                submission=submission, question_id=key[0], kind=key[1], detail=detail, value_seen=value
            )
        elif anomaly.value_seen != value:
            # A new value that still looks wrong is a new question, even after a justification.
            anomaly.detail, anomaly.value_seen = detail, value
            anomaly.status, anomaly.resolved_at, anomaly.resolved_by = AnomalyStatus.OPEN, None, None
            anomaly.save(update_fields=["detail", "value_seen", "status", "resolved_at", "resolved_by"])
    for key, anomaly in existing.items():
        if key not in found and anomaly.is_unresolved:
            anomaly.status, anomaly.resolved_at, anomaly.resolved_by = AnomalyStatus.CORRECTED, now, actor
            anomaly.save(update_fields=["status", "resolved_at", "resolved_by"])
    return submission.anomalies.unresolved().count()


def _settle_remarks(submission, actor):
    """On sending again: a remark whose answer has changed since it was made counts as corrected."""
    now = timezone.now()
    for anomaly in submission.anomalies.filter(kind=AnomalyKind.REVIEWER, status=AnomalyStatus.QUERIED):
        answer = Answer.objects.filter(submission=submission, question_id=anomaly.question_id).first()
        if answer is not None and anomaly.queried_at and answer.updated_at > anomaly.queried_at:
            anomaly.status, anomaly.resolved_at, anomaly.resolved_by = AnomalyStatus.CORRECTED, now, actor
            anomaly.save(update_fields=["status", "resolved_at", "resolved_by"])


def query_anomaly(anomaly, *, actor, text):
    """The correspondant asks the structure about an anomaly (sent with the next return)."""
    if not text or not text.strip():
        raise TransitionRefused("Écrivez la question à poser à la structure.")
    if not anomaly.is_unresolved:
        raise TransitionRefused("Ce point est déjà réglé.")
    anomaly.status, anomaly.query = AnomalyStatus.QUERIED, text.strip()
    anomaly.queried_by, anomaly.queried_at = actor, timezone.now()
    anomaly.save(update_fields=["status", "query", "queried_by", "queried_at"])
    return anomaly


def justify_anomaly(anomaly, *, actor, text):
    """Close an anomaly as justified (by the structure answering, or the correspondant knowing why)."""
    if not text or not text.strip():
        raise TransitionRefused("Écrivez la justification : elle est conservée avec la réponse.")
    if not anomaly.is_unresolved:
        raise TransitionRefused("Ce point est déjà réglé.")
    anomaly.status, anomaly.justification = AnomalyStatus.JUSTIFIED, text.strip()
    anomaly.resolved_by, anomaly.resolved_at = actor, timezone.now()
    anomaly.save(update_fields=["status", "justification", "resolved_by", "resolved_at"])
    return anomaly


# -- correspondants and reminders ----------------------------------------------------------------


def assign_default_correspondents(campaign):
    """Make the Caf and federation editors correspondants of their partner's départements (those
    where the campaign has structures). Returns how many were added."""
    departments = set(campaign.submissions.values_list("structure__commune__department_id", flat=True))
    if not departments:
        departments = set(Department.objects.values_list("code", flat=True))
    rows = Membership.objects.filter(
        partner__kind__in=[PartnerKind.CAF, PartnerKind.FEDERATION], role__in=WRITE_ROLES, user__is_active=True
    ).values_list("user_id", "partner__departments")
    wanted = {(user_id, code) for user_id, code in rows if code in departments}
    existing = set(campaign.correspondents.values_list("user_id", "department_id"))
    Correspondent.objects.bulk_create(
        Correspondent(campaign=campaign, user_id=user_id, department_id=code)
        for user_id, code in sorted(wanted - existing)
    )
    return len(wanted - existing)


def late_submissions(campaign):
    """Submissions not yet sent by the structure (draft, not started, or returned)."""
    return campaign.submissions.filter(status__in=NOT_SENT_STATUSES)


def send_reminders(campaign, submissions, *, actor=None):
    """E-mail the contributors of `submissions` that are still not sent; returns (reminded, e-mails)."""
    submissions = list(submissions.filter(status__in=NOT_SENT_STATUSES).select_related("structure"))
    if not submissions:
        return 0, 0
    by_structure = {}
    for membership in Membership.objects.filter(
        structure__in=[s.structure_id for s in submissions], role__in=WRITE_ROLES, user__is_active=True
    ).select_related("user"):
        by_structure.setdefault(membership.structure_id, []).append(membership.user.email)
    messages = []
    for submission in submissions:
        returned = submission.status == SubmissionStatus.RETURNED
        state = "vous a été renvoyé pour correction" if returned else "n'a pas encore été envoyé"
        for email in sorted(by_structure.get(submission.structure_id, [])):
            messages.append(
                mail.EmailMessage(
                    subject=f"Observatoire {campaign.year} : rappel, votre questionnaire est attendu",
                    body=(
                        f"Bonjour,\n\nLe questionnaire {of(submission.structure.name)} pour l'année {campaign.year} "
                        f"{state}. La campagne se clôt le {campaign.closes_on:%d/%m/%Y}.\n\nVos réponses déjà "
                        f"saisies sont conservées.\n\n{settings.CADRE_OPERATOR['name']}"
                    ),
                    to=[email],
                )
            )
    now = timezone.now()
    Submission.objects.filter(pk__in=[s.pk for s in submissions]).update(
        reminded_at=now, reminder_count=models.F("reminder_count") + 1
    )
    if messages:
        mail.get_connection().send_messages(messages)
    return len(submissions), len(messages)


def take_previous_answers(submission, section, *, actor):
    """Take last year's answers into the unanswered questions of `section`, in one step: the follow-up
    questions an answer taken reveals (« shown_if ») take theirs too. Returns how many were taken."""
    from cadre.observatory.entry import Entry

    taken = 0
    with transaction.atomic():
        for _ in range(len(section.questions.all()) + 1):  # each round reveals deeper follow-ups, if any
            entry = Entry(submission)
            questions = entry.prefillable(section)
            if not questions:
                break
            taken += copy_previous_answers(submission, questions, entry.previous, actor=actor)
    return taken


def copy_previous_answers(submission, questions, previous, *, actor):
    """Take last year's answers (`previous`: {code: value}) into the unanswered `questions`."""
    copied = 0
    for question in questions:
        if question.code in previous:
            value = previous[question.code]
            save_answer(
                submission, question, "oui" if value is True else "non" if value is False else value, actor=actor
            )
            copied += 1
    return copied
