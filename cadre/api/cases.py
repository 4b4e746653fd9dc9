"""Difficulty reports and support cases, with the pages' scope and confidentiality: a caller reads the reports
and cases it sees, and of a case only the notes, documents, actions and timeline steps of its circles
(cadre/monitoring/case_models.py decides, through visible_to). Files are not served here: a document gives its
name and the address of its download page, which checks the circle again."""

import datetime
from uuid import UUID

from django.urls import reverse
from ninja import Field, Query, Router, Schema

from cadre.api.pagination import PageParams, paginate
from cadre.api.schemas import ErrorOut, Page
from cadre.api.writes import get_or_404
from cadre.monitoring.case_models import (
    CaseAction,
    CaseDocument,
    CaseEvent,
    CaseNote,
    DifficultyReport,
    SupportCase,
)

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
