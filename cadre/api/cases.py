"""Difficulty reports and support cases, with the pages' scope and confidentiality: a caller reads the reports
and cases it sees, and of a case only the notes, documents, actions and timeline steps of its circles
(cadre/monitoring/case_models.py decides, through visible_to). Files are not served here: a document gives its
name and the address of its download page, which checks the circle again."""

import base64
import binascii
import datetime
from uuid import UUID

from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from ninja import Field, Query, Router, Schema, Status

from cadre.api.errors import ApiError, FieldErrors, form_errors
from cadre.api.pagination import PageParams, paginate
from cadre.api.schemas import WRITE_CONFIG, ErrorOut, Page
from cadre.api.writes import get_or_404
from cadre.monitoring import actions, permissions_cases
from cadre.monitoring.case_models import (
    CaseAction,
    CaseDocument,
    CaseEvent,
    CaseNote,
    DifficultyReport,
    SupportCase,
)
from cadre.monitoring.forms_cases import MAX_ATTACHMENTS, ReportForm
from cadre.structures.models import Structure

router = Router(tags=["Prévention"])


class ReportOut(Schema):
    id: UUID
    structure: UUID
    created_at: datetime.datetime
    category: str = Field(description="financial, governance, staff, premises, partnership ou other")
    urgency: str = Field(description="normal, high ou critical")
    description: str
    attachments: list[str] = Field(description="Noms des pièces jointes.")
    notified: list[UUID] = Field(description="Partenaires informés du signalement.")


class AttachmentIn(Schema):
    model_config = WRITE_CONFIG

    name: str = Field(description="Nom du fichier, avec son extension (par exemple releve.pdf).")
    content: str = Field(description="Contenu du fichier encodé en base64.")


class ReportIn(Schema):
    """Un signalement : les mêmes champs et les mêmes contrôles que le formulaire « Signaler une difficulté »."""

    model_config = WRITE_CONFIG

    structure: UUID = Field(description="Identifiant de la structure en difficulté.")
    category: str = Field(description="financial, governance, staff, premises, partnership ou other")
    urgency: str = Field("normal", description="normal (par défaut), high ou critical")
    description: str = Field(
        description="Ce qui se passe, depuis quand, ce qui est fait, ce dont la structure a besoin."
    )
    attachments: list[AttachmentIn] = Field(
        default_factory=list, description=f"Pièces jointes (au plus {MAX_ATTACHMENTS}), contrôlées comme sur le site."
    )


CANNOT_REPORT = (
    "Seules les personnes de la structure qui peuvent écrire pour elle (et les administrateurs) signalent ses "
    "difficultés. Rien n'a été enregistré."
)


class CaseOut(Schema):
    id: UUID
    structure: UUID
    committee: str
    title: str
    status: str = Field(description="open, diagnosis, plan, follow_up ou closed")
    outcome: str = Field(description="recovered, taken_over, closure ou other quand le dossier est clos")
    opened_on: datetime.date
    closed_on: datetime.date | None


class NoteOut(Schema):
    circle: str = Field(description="body, partners ou structure : qui lit la note")
    written_at: datetime.datetime
    text: str


class DocumentOut(Schema):
    circle: str
    title: str
    file_name: str
    uploaded_at: datetime.datetime
    download: str


class ActionOut(Schema):
    circle: str
    title: str
    description: str
    due: datetime.date
    done_on: datetime.date | None
    late: bool


class EventOut(Schema):
    circle: str
    kind: str
    at: datetime.datetime
    text: str


class CaseDetailOut(CaseOut):
    notes: list[NoteOut]
    documents: list[DocumentOut]
    actions: list[ActionOut]
    timeline: list[EventOut]


class CaseFilters(Schema):
    structure: UUID | None = None
    status: str | None = None


def report_out(report):
    return {
        "id": report.uuid,
        "structure": report.structure.uuid,
        "created_at": report.created_at,
        "category": report.category,
        "urgency": report.urgency,
        "description": report.description,
        "attachments": [a.file_name for a in report.attachments.all()],
        "notified": [p.uuid for p in report.notified.all()],
    }


def reports(user):
    return (
        DifficultyReport.objects.visible_to(user)
        .select_related("structure")
        .prefetch_related("notified", "attachments")
        .order_by("-created_at", "-pk")
    )


@router.get(
    "/difficulty-reports",
    response={200: Page[ReportOut], 400: ErrorOut, 401: ErrorOut},
    url_name="difficulty_reports",
    summary="Signalements de difficulté des structures visibles",
)
def list_reports(request, paging: Query[PageParams], structure: UUID | None = None):
    found = reports(request.user)
    if structure:
        found = found.filter(structure__uuid=structure)
    page = paginate(found, paging)
    return {**page, "results": [report_out(r) for r in page["results"]]}


@router.get(
    "/difficulty-reports/{uuid}",
    response={200: ReportOut, 401: ErrorOut, 404: ErrorOut},
    url_name="difficulty_report",
    summary="Un signalement de difficulté",
)
def get_report(request, uuid: UUID):
    return report_out(get_or_404(reports(request.user), "Signalement introuvable.", uuid=uuid))


def _uploads(attachments):
    """The attachments as the form's file field reads them; a content that is not base64 is told at its field."""
    uploads = []
    for index, attachment in enumerate(attachments):
        try:
            content = base64.b64decode(attachment.content, validate=True)
        except (binascii.Error, ValueError) as error:
            raise FieldErrors(
                {f"attachments.{index}.content": [f"{attachment.name} : contenu illisible (base64 attendu)."]}
            ) from error
        uploads.append(SimpleUploadedFile(attachment.name, content))
    return MultiValueDict({"files": uploads}) if uploads else None


@router.post(
    "/difficulty-reports",
    response={201: ReportOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    url_name="difficulty_reports",
    summary="Signaler une difficulté (la structure, les administrateurs)",
)
def create_report(request, payload: ReportIn, response: HttpResponse):
    """Checked by the web form's own ReportForm and written by the same workflow (actions.report_difficulty), which
    tells the partners that fund the structure and its federation, by e-mail and on their home page."""
    user = request.user
    structure = get_or_404(Structure.objects.visible_to(user), "Structure introuvable.", uuid=payload.structure)
    if not permissions_cases.can_report(user, structure):
        raise ApiError(403, CANNOT_REPORT)
    form = ReportForm(
        {"category": payload.category, "urgency": payload.urgency, "description": payload.description},
        _uploads(payload.attachments),
    )
    if not form.is_valid():
        errors = form_errors(form)
        if "files" in errors:
            errors["attachments"] = errors.pop("files")
        raise FieldErrors(errors)
    report = actions.report_difficulty(
        structure,
        actor=user,
        category=form.cleaned_data["category"],
        description=form.cleaned_data["description"],
        urgency=form.cleaned_data["urgency"],
        files=form.checked,
    )
    response["Location"] = reverse("api-1.0.0:difficulty_report", args=[report.uuid])
    return Status(201, report_out(get_or_404(reports(user), "Signalement introuvable.", pk=report.pk)))


def case_out(case):
    return {
        "id": case.uuid,
        "structure": case.structure.uuid,
        "committee": case.committee.name,
        "title": case.title,
        "status": case.status,
        "outcome": case.outcome,
        "opened_on": case.opened_on,
        "closed_on": case.closed_on,
    }


def cases(user):
    return SupportCase.objects.visible_to(user).select_related("structure", "committee").order_by("-opened_on", "-pk")


@router.get(
    "/support-cases",
    response={200: Page[CaseOut], 400: ErrorOut, 401: ErrorOut},
    url_name="support_cases",
    summary="Dossiers d'accompagnement visibles",
)
def list_cases(request, paging: Query[PageParams], filters: Query[CaseFilters]):
    found = cases(request.user)
    if filters.structure:
        found = found.filter(structure__uuid=filters.structure)
    if filters.status:
        found = found.filter(status=filters.status)
    page = paginate(found, paging)
    return {**page, "results": [case_out(c) for c in page["results"]]}


@router.get(
    "/support-cases/{uuid}",
    response={200: CaseDetailOut, 401: ErrorOut, 404: ErrorOut},
    url_name="support_case",
    summary="Un dossier d'accompagnement, avec ce que le cercle de l'appelant lui permet de lire",
)
def get_case(request, uuid: UUID):
    user = request.user
    case = get_or_404(cases(user), "Dossier introuvable.", uuid=uuid)
    today = datetime.date.today()
    return {
        **case_out(case),
        "notes": [
            {"circle": n.circle, "written_at": n.written_at, "text": n.text}
            for n in CaseNote.objects.visible_to(user).filter(case=case)
        ],
        "documents": [
            {
                "circle": d.circle,
                "title": d.title,
                "file_name": d.file_name,
                "uploaded_at": d.uploaded_at,
                "download": request.build_absolute_uri(reverse("monitoring:case_document_download", args=[d.uuid])),
            }
            for d in CaseDocument.objects.visible_to(user).filter(case=case).defer("content")
        ],
        "actions": [
            {
                "circle": a.circle,
                "title": a.title,
                "description": a.description,
                "due": a.due,
                "done_on": a.done_on,
                "late": a.is_late(today),
            }
            for a in CaseAction.objects.visible_to(user).filter(case=case)
        ],
        "timeline": [
            {"circle": e.circle, "kind": e.kind, "at": e.at, "text": e.note.text if e.note_id else e.text}
            for e in CaseEvent.objects.visible_to(user).filter(case=case).select_related("note")
        ],
    }
