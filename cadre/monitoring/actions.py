"""The life of a statement: entered, sent, then accepted or returned with the reason."""

from django.db import transaction
from django.utils import timezone

from cadre.accounts.models import WRITE_ROLES
from cadre.exchanges import registry
from cadre.exchanges.actions import (
    apply_checked,
    apply_in_worker,
    checked_fields,
    create_in_bulk,
    dry_run_in_worker,
    hand_over,
    in_chunks,
    locked_by_pk,
    update_in_bulk,
)
from cadre.exchanges.models import ImportStatus
from cadre.monitoring import alert_tasks, statement_file
from cadre.monitoring import receivers as alert_receivers
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import EDITABLE_STATUSES, FinancialStatement, StatementImport


class StatementStateError(Exception):
    """The statement is no longer in the state the action needs (someone acted meanwhile)."""


def _move(statement, allowed, user, **changes):
    """Change the statement's state if it still is in one of `allowed`, with its version, in one history entry."""
    with transaction.atomic():
        locked = FinancialStatement.objects.select_for_update().get(pk=statement.pk)
        if locked.status not in allowed:
            raise StatementStateError(f"Ces comptes sont désormais « {locked.get_status_display()} ».")
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save_tracked(expected_version=locked.version, user=user)
    return locked


def submit(statement, user):
    """Send the accounts to the partners, once they add up (the form has already checked them)."""
    statement.clean()
    return _move(
        statement,
        {StatementStatus.DRAFT, StatementStatus.RETURNED},
        user,
        status=StatementStatus.SUBMITTED,
        submitted_at=timezone.now(),
        submitted_by=user,
    )


def accept(statement, user):
    return _move(
        statement,
        {StatementStatus.SUBMITTED},
        user,
        status=StatementStatus.ACCEPTED,
        reviewed_at=timezone.now(),
        reviewed_by=user,
        review_comment="",
    )


def return_to_structure(statement, user, comment):
    return _move(
        statement,
        {StatementStatus.SUBMITTED},
        user,
        status=StatementStatus.RETURNED,
        reviewed_at=timezone.now(),
        reviewed_by=user,
        review_comment=comment,
    )


# -- annual accounts -----------------------------------------------------------------------------


def record_statement_import(user, name, content, report=None):
    """Store an uploaded file of annual accounts with its dry-run report (checked here unless `report` is
    given). FileRefused when the file cannot be read at all: nothing is stored then."""
    if report is None:
        report = statement_file.check_file(user, name, content)
    statement_import = StatementImport.of_file(user, name, content, **checked_fields(report))
    statement_import.save()
    return statement_import


def upload_statement_import(user, name, content):
    """Store a large file for the worker to check; its page follows the progress."""
    statement_import = StatementImport.of_file(user, name, content, status=ImportStatus.CHECKING)
    statement_import.save()
    alert_tasks.check_statement_import.enqueue(statement_import.pk)
    return statement_import


def check_statement_import(statement_import_pk):
    dry_run_in_worker(
        StatementImport,
        statement_import_pk,
        lambda it, progress: statement_file.check_file(
            it.uploaded_by, it.file_name, bytes(it.content), progress=progress
        ),
        checked_fields,
    )


def _write_statements(locked, pending, actor, report):
    """The statements of a checked file, as the dry run left them: the stored ones unchanged since (versions),
    still open to changes (draft or returned), the new ones not entered meanwhile, the importer still entitled."""
    creates, updates = pending["creates"], pending["updates"]
    stored = locked_by_pk(FinancialStatement, updates)
    for entry in updates:
        statement = stored.get(entry["pk"])
        if statement is None:
            report.add("ces comptes ont été supprimés depuis la vérification.", entry["row"], name=entry["name"])
        elif statement.version != entry["version"]:
            report.add(
                f"les comptes {statement.year} ont été modifiés depuis la vérification du fichier (le "
                f"{timezone.localtime(statement.updated_at):%d/%m/%Y à %H:%M}) : déposez le fichier à nouveau pour "
                "voir les changements.",
                entry["row"],
                name=entry["name"],
            )
        elif statement.status not in EDITABLE_STATUSES:
            report.add(
                f"les comptes {statement.year} sont désormais « {statement.get_status_display()} » : ils ne changent "
                "plus.",
                entry["row"],
                name=entry["name"],
            )
    years = {(entry["structure"], int(entry["fields"]["ends_on"][:4])): entry for entry in creates}
    for chunk in in_chunks({structure_id for structure_id, _ in years}):
        for key in FinancialStatement.objects.filter(structure_id__in=chunk).values_list("structure_id", "year"):
            if key in years:
                report.add(
                    f"des comptes {key[1]} de cette structure ont été saisis depuis la vérification : déposez le "
                    "fichier à nouveau (la ligne les mettra à jour).",
                    years[key]["row"],
                    name=years[key]["name"],
                )
    structure_ids = {entry["structure"] for entry in creates} | {s.structure_id for s in stored.values()}
    writable = None if actor.is_administrator else actor.structure_ids(WRITE_ROLES)
    if writable is not None and not structure_ids <= writable:
        report.add("vous n'avez plus le droit de saisir les comptes de toutes les structures du fichier.")
    if not report.ok:
        return
    now = timezone.now()
    new = []
    for entry in creates:
        values = statement_file.values_of(entry["fields"])
        new.append(FinancialStatement(structure_id=entry["structure"], year=values["ends_on"].year, **values))
    fields, touched = set(), []
    for entry in updates:
        statement = stored[entry["pk"]]
        for name, value in statement_file.values_of(entry["fields"]).items():
            setattr(statement, name, value)
            fields.add(name)
        statement.year = statement.ends_on.year
        statement.version += 1
        statement.updated_at = now
        touched.append(statement)
    with alert_receivers.paused():  # one recompute for the whole file, below, not one per statement
        create_in_bulk(FinancialStatement, new, actor, reason=statement_file.REASON)
        update_in_bulk(FinancialStatement, touched, fields | {"year"}, actor, reason=statement_file.REASON)
    if structure_ids:
        # In the transaction, as the receivers do: the database queue writes the task with the statement_import.
        alert_tasks.recompute_health.enqueue(sorted(structure_ids))


def apply_statement_import(statement_import, *, actor):
    """Write a checked file of annual accounts, all or nothing (see `_write_statements` for what is checked
    again). Returns the applied StatementImport; ImportRefused (French) otherwise, nothing written."""
    return apply_checked(
        StatementImport,
        statement_import,
        actor,
        registry.Report(target=statement_file.STATEMENTS),
        _write_statements,
        "Rien n'a été importé : des comptes ont changé depuis la vérification du fichier (voir les erreurs "
        "ci-dessous).",
    )


def start_statement_apply(statement_import, *, actor):
    hand_over(statement_import, actor, alert_tasks.apply_statement_import)


def apply_statements_in_background(statement_import_pk, actor_pk):
    apply_in_worker(StatementImport, statement_import_pk, actor_pk, apply_statement_import, defer=["content"])


# -- Difficulty reports and support cases ---------------------------------------------------------------------
# Each workflow: one transaction, the timeline entry (in the circle of what it tells) written there, the e-mails
# sent on commit to the people of that circle only.

from django.conf import settings  # noqa: E402
from django.core import mail  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.urls import reverse  # noqa: E402

from cadre.accounts.models import Membership  # noqa: E402
from cadre.agreements.models import CommitteeMember  # noqa: E402
from cadre.core.french import of  # noqa: E402
from cadre.funding.models import FundingLine  # noqa: E402
from cadre.monitoring.case_models import (  # noqa: E402
    CaseAction,
    CaseDocument,
    CaseEvent,
    CaseNote,
    CaseOrigin,
    CaseStatus,
    Circle,
    DifficultyReport,
    EventKind,
    RecoveryPlan,
    ReportAttachment,
    SupportCase,
)


class CaseStateError(Exception):
    """The case is no longer in the state the action needs, or the action is refused: the message says why."""


def partners_told(structure, year):
    """The partners told of a structure's difficulty: those funding it around `year`, and its federation."""
    funders = set(
        FundingLine.objects.filter(structure=structure, year__range=(year - 1, year + 1))
        .order_by()  # a set: not the lines' order, which joins the structure and the partner
        .values_list("partner_id", flat=True)
    )
    if structure.federation_id:
        funders.add(structure.federation_id)
    return sorted(funders)


def _emails(partner_ids=(), structure_ids=(), exclude=None):
    users = Membership.objects.filter(user__is_active=True).filter(
        Q(partner_id__in=sorted(partner_ids)) | Q(structure_id__in=sorted(structure_ids))
    )
    emails = set(users.values_list("user__email", flat=True))
    if exclude is not None:
        emails.discard(exclude.email)
    return sorted(emails)


def _send(subject, body, recipients):
    if recipients:
        mail.EmailMessage(
            subject=subject, body=f"Bonjour,\n\n{body}\n\n{settings.CADRE_OPERATOR['name']}", to=recipients
        ).send()


def report_difficulty(structure, *, actor, category, description, urgency, files=()):
    """Record a structure's report with its attachments (`files`: checked uploads) and tell the partners that
    fund it and its federation, by e-mail once saved (their home page shows it from then on)."""
    with transaction.atomic():
        report = DifficultyReport(
            structure=structure, category=category, description=description.strip(), urgency=urgency, reported_by=actor
        )
        told = partners_told(structure, timezone.localdate().year)
        report.save_tracked(user=actor, save_relations=lambda: report.notified.set(told))
        for checked in files:
            attachment = ReportAttachment(report=report, uploaded_by=actor)
            attachment.set_file(checked)
            attachment.save()
        recipients = _emails(told, exclude=actor)
        url = settings.CADRE_SITE_URL + reverse("monitoring:report", args=[report.uuid])
        transaction.on_commit(
            lambda: _send(
                f"Signalement de difficulté : {structure.name} ({report.get_urgency_display().lower()})",
                f"La structure {structure.name} signale une difficulté "
                f"{report.get_category_display().lower()} ({report.get_urgency_display().lower()}).\n\n"
                f"{report.description}\n\nLe signalement : {url}",
                recipients,
            )
        )
    return report


def _event(case, kind, text, *, actor, circle, note=None, document=None):
    return CaseEvent.objects.create(
        case=case, kind=kind, text=text[:300], actor=actor, circle=circle, note=note, document=document
    )


def circle_recipients(case, circle, exclude=None):
    """The e-mail addresses of the people of `circle` on `case` (the same circles as CircleQuerySet.visible_to)."""
    body = set(CommitteeMember.objects.filter(committee_id=case.committee_id).values_list("partner_id", flat=True))
    members = set(case.members.values_list("pk", flat=True))
    partners = body if circle == Circle.BODY else body | members
    structures = [case.structure_id] if circle == Circle.STRUCTURE else []
    return _emails(partners, structures, exclude=exclude)


def _tell(case, circle, subject, what, actor):
    """E-mail the people of `circle`: what happened, with the link; never the content of a more private circle."""
    recipients = circle_recipients(case, circle, exclude=actor)
    url = settings.CADRE_SITE_URL + reverse("monitoring:case", args=[case.uuid])
    transaction.on_commit(
        lambda: _send(
            f"Dossier d'accompagnement {of(case.structure.name)} : {subject}",
            f"{what}\n\nLe dossier : {url}",
            recipients,
        )
    )


def open_case(
    structure,
    *,
    committee,
    actor,
    title,
    origin=CaseOrigin.MANUAL,
    report=None,
    health_status=None,
    lead=None,
    lead_person="",
    members=None,
):
    """The support body opens a case on a structure, from a report, an alert (HealthStatus) or by hand. The
    members are by default the partners told of the report, or those funding the structure and its federation."""
    if report is not None:
        origin = CaseOrigin.REPORT
    elif health_status is not None:
        origin = CaseOrigin.ALERT
    with transaction.atomic():
        case = SupportCase(
            structure=structure,
            committee=committee,
            title=title.strip(),
            origin=origin,
            report=report,
            lead=lead,
            lead_person=lead_person,
            opened_on=timezone.localdate(),
        )
        if health_status is not None:
            case.alert_year, case.alert_facts = health_status.year, list(health_status.facts)
        if members is None:
            members = (
                list(report.notified.values_list("pk", flat=True))
                if report is not None
                else partners_told(structure, timezone.localdate().year)
            )
        case.save_tracked(user=actor, save_relations=lambda: case.members.set(members))
        _event(
            case,
            EventKind.OPENED,
            f"Dossier ouvert ({case.get_origin_display().lower()})",
            actor=actor,
            circle=Circle.PARTNERS,
        )
        _tell(
            case,
            Circle.PARTNERS,
            "dossier ouvert",
            f"{committee.name} ouvre un dossier d'accompagnement {of(structure.name)} : « {case.title} ».",
            actor,
        )
    return case


def _writable(case):
    locked = SupportCase.objects.select_for_update().get(pk=case.pk)
    if locked.is_closed:
        raise CaseStateError("Ce dossier est clos : il ne reçoit plus de note, de document ni d'action.")
    return locked


def add_note(case, *, actor, text, circle):
    """A note, for one circle, written once. Its people are told by e-mail, without its text."""
    text = text.strip()
    if not text:
        raise CaseStateError("Écrivez la note.")
    with transaction.atomic():
        locked = _writable(case)
        note = CaseNote.objects.create(case=locked, circle=circle, text=text, author=actor)
        _event(locked, EventKind.NOTE, "Note ajoutée", actor=actor, circle=circle, note=note)
        _tell(
            locked, circle, "nouvelle note", f"Une note ({Circle(circle).label.lower()}) est ajoutée au dossier.", actor
        )
    return note


def add_document(case, *, actor, checked, title, circle):
    with transaction.atomic():
        locked = _writable(case)
        document = CaseDocument(case=locked, circle=circle, title=title.strip(), uploaded_by=actor)
        document.set_file(checked)
        document.save()
        _event(
            locked, EventKind.DOCUMENT, f"Document déposé : {document}", actor=actor, circle=circle, document=document
        )
        _tell(
            locked,
            circle,
            "nouveau document",
            f"Un document ({Circle(circle).label.lower()}) est déposé au dossier.",
            actor,
        )
    return document


def add_action(case, *, actor, title, due, circle, owner=None, owner_is_structure=False, description=""):
    with transaction.atomic():
        locked = _writable(case)
        action = CaseAction.objects.create(
            case=locked,
            circle=circle,
            title=title.strip(),
            description=description.strip(),
            owner=None if owner_is_structure else owner,
            owner_is_structure=owner_is_structure,
            due=due,
        )
        _event(
            locked,
            EventKind.ACTION,
            f"Action prévue pour le {due:%d/%m/%Y} : {action.title}",
            actor=actor,
            circle=circle,
        )
        _tell(locked, circle, "nouvelle action", f"Une action est prévue pour le {due:%d/%m/%Y}.", actor)
    return action


def complete_action(action, *, actor, done_on=None):
    with transaction.atomic():
        locked = CaseAction.objects.select_for_update().get(pk=action.pk)
        if locked.done_on:
            raise CaseStateError(f"Cette action est déjà faite (le {locked.done_on:%d/%m/%Y}).")
        locked.done_on = done_on or timezone.localdate()
        locked.version += 1  # an editor who read it still to do is told it changed
        locked.save(update_fields=["done_on", "version"])
        _event(locked.case, EventKind.ACTION_DONE, f"Action faite : {locked.title}", actor=actor, circle=locked.circle)
    return locked


def _owner_label(case, owner, owner_is_structure):
    if owner_is_structure:
        return case.structure.name
    return (owner.short_name or owner.name) if owner else "sans porteur"


def edit_action(
    action,
    *,
    actor,
    expected_version,
    title,
    due,
    description="",
    owner=None,
    owner_is_structure=False,
    reopen=False,
):
    """Change an action (its title, précisions, owner, due date), or reopen it once done, on the version the editor
    read: a change made meanwhile is a CaseStateError and nothing is written. The change joins the timeline in the
    action's own circle (which does not change: what was written for the body stays the body's), and its people
    are told by e-mail; the calendar shows the new due date, since it reads the action itself."""
    with transaction.atomic():
        locked = CaseAction.objects.select_for_update().get(pk=action.pk)
        case = _writable(locked.case)
        if locked.version != expected_version:
            raise CaseStateError(
                "Cette action a été modifiée entre-temps (elle se lit désormais : "
                f"« {locked.title} », échéance le {locked.due:%d/%m/%Y}, porteur : "
                f"{_owner_label(case, locked.owner, locked.owner_is_structure)}"
                f"{f', faite le {locked.done_on:%d/%m/%Y}' if locked.done_on else ''}). "
                "Rien n'a été enregistré : relisez-la puis refaites vos changements."
            )
        if reopen and not locked.done_on:
            raise CaseStateError("Cette action n'est pas faite : il n'y a rien à rouvrir.")
        owner = None if owner_is_structure else owner
        changes = []
        title = title.strip()
        if title != locked.title:
            changes.append(f"intitulé « {locked.title} » → « {title} »")
        if due != locked.due:
            changes.append(f"échéance {locked.due:%d/%m/%Y} → {due:%d/%m/%Y}")
        if (owner and owner.pk) != locked.owner_id or owner_is_structure != locked.owner_is_structure:
            changes.append(
                f"porteur {_owner_label(case, locked.owner, locked.owner_is_structure)} → "
                f"{_owner_label(case, owner, owner_is_structure)}"
            )
        if description.strip() != locked.description:
            changes.append("précisions modifiées" if locked.description else "précisions ajoutées")
        if not changes and not reopen:
            return locked
        locked.title, locked.due, locked.description = title, due, description.strip()
        locked.owner, locked.owner_is_structure = owner, owner_is_structure
        if reopen:
            locked.done_on = None
        locked.version += 1
        locked.save()
        if reopen:
            text = f"Action rouverte : {locked.title}" + (f" ({' ; '.join(changes)})" if changes else "")
            _event(case, EventKind.ACTION_REOPEN, text, actor=actor, circle=locked.circle)
        else:
            _event(
                case,
                EventKind.ACTION_EDIT,
                f"Action modifiée : {locked.title} ({' ; '.join(changes)})",
                actor=actor,
                circle=locked.circle,
            )
        _tell(
            case,
            locked.circle,
            "action rouverte" if reopen else "action modifiée",
            f"Une action du dossier est {'rouverte' if reopen else 'modifiée'} : échéance le {locked.due:%d/%m/%Y}.",
            actor,
        )
    return locked


def change_status(case, *, actor, status, outcome="", comment="", expected_version=None):
    """Move the case on (or back one step). Closing needs the outcome. The step joins the timeline of the
    partners concerned."""
    with transaction.atomic():
        locked = SupportCase.objects.select_for_update().get(pk=case.pk)
        if expected_version is not None and locked.version != expected_version:
            raise CaseStateError("Le dossier a changé entre-temps : rechargez la page.")
        if status not in locked.next_statuses():
            raise CaseStateError(
                f"Le dossier est « {locked.get_status_display()} » : il ne peut pas passer à cet état."
            )
        if status == CaseStatus.CLOSED and not outcome:
            raise CaseStateError("Indiquez l'issue du dossier pour le clore.")
        previous = locked.get_status_display()
        locked.status = status
        if status == CaseStatus.CLOSED:
            locked.outcome, locked.closed_on = outcome, timezone.localdate()
        locked.save_tracked(expected_version=locked.version, user=actor)
        text = f"{previous} → {locked.get_status_display()}"
        if locked.outcome:
            text += f" : {locked.get_outcome_display().lower()}"
        if comment.strip():
            text += f". {comment.strip()}"
        kind = EventKind.CLOSED if status == CaseStatus.CLOSED else EventKind.STATUS
        _event(locked, kind, text, actor=actor, circle=Circle.PARTNERS)
        _tell(locked, Circle.PARTNERS, f"état « {locked.get_status_display()} »", f"Le dossier passe : {text}", actor)
    return locked


def link_governance(case, *, actor, meeting=None, decision=None):
    """Link a meeting or a decision of the case's body (or of another committee) to the case."""
    with transaction.atomic():
        locked = SupportCase.objects.select_for_update().get(pk=case.pk)
        if meeting is not None:
            locked.meetings.add(meeting)
            _event(locked, EventKind.LINK, f"Réunion liée : {meeting}", actor=actor, circle=Circle.PARTNERS)
        if decision is not None:
            locked.decisions.add(decision)
            _event(
                locked,
                EventKind.LINK,
                f"Décision liée : {decision} ({decision.meeting})",
                actor=actor,
                circle=Circle.PARTNERS,
            )
    return locked


def save_plan(case, *, actor, adopted_on, summary, expected_version=None):
    """Adopt the recovery plan, or change it (with the version the editor read)."""
    with transaction.atomic():
        locked = _writable(case)
        plan = RecoveryPlan.objects.filter(case=locked).first()
        created = plan is None
        plan = plan or RecoveryPlan(case=locked)
        plan.adopted_on, plan.summary = adopted_on, summary.strip()
        plan.save_tracked(user=actor, expected_version=None if created else expected_version)
        _event(
            locked,
            EventKind.PLAN,
            "Plan de retour à l'équilibre adopté" if created else "Plan de retour à l'équilibre modifié",
            actor=actor,
            circle=Circle.PARTNERS,
        )
    return plan


def plan_milestone(plan, *, actor, title, due):
    with transaction.atomic():
        milestone = plan.milestones.create(title=title.strip(), due=due)
        _event(
            plan.case,
            EventKind.PLAN,
            f"Jalon du plan : {milestone.title} ({due:%d/%m/%Y})",
            actor=actor,
            circle=Circle.PARTNERS,
        )
    return milestone


def reach_milestone(milestone, *, actor, done_on=None):
    with transaction.atomic():
        milestone.done_on = done_on or timezone.localdate()
        milestone.save(update_fields=["done_on"])
        _event(
            milestone.plan.case,
            EventKind.PLAN,
            f"Jalon atteint : {milestone.title}",
            actor=actor,
            circle=Circle.PARTNERS,
        )
    return milestone


def plan_target(plan, *, actor, ratio, year, target, at_least=True):
    with transaction.atomic():
        found = plan.targets.update_or_create(
            ratio=ratio, year=year, defaults={"target": target, "at_least": at_least}
        )[0]
        _event(
            plan.case,
            EventKind.PLAN,
            f"Valeur visée : {found.get_ratio_display()} {year}",
            actor=actor,
            circle=Circle.PARTNERS,
        )
    return found
