"""The review of an SCDL file: counts by class, rows and groups page by page, decisions, exclusions,
the rows to fix as CSV, and the confirmation (in the worker for a large file)."""

import csv
import io
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Max, Min, Q, Sum
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify

from cadre.core.pagination import paginate
from cadre.funding import actions, permissions
from cadre.funding.models import Decision, RowStatus, SubsidyImport
from cadre.structures.models import Structure

GROUPS_PER_PAGE = 25
ROWS_PER_PAGE = 50

TO_CONFIRM = Q(status=RowStatus.NAME, decision=Decision.UNDECIDED)
UNMATCHED = Q(status=RowStatus.NONE, decision=Decision.UNDECIDED)
DECIDED = Q(status__in=[RowStatus.NAME, RowStatus.NONE]) & ~Q(decision=Decision.UNDECIDED)
ERRORS = Q(status=RowStatus.ERROR, excluded=False)
# (parameter, label, rows, shown as groups to decide)
CLASSES = [
    ("a-confirmer", "À confirmer", TO_CONFIRM, True),
    ("non-reconnues", "Non reconnues", UNMATCHED, True),
    ("erreurs", "Erreurs", ERRORS, False),
    ("identifiant", "Reconnues par l’identifiant", Q(status=RowStatus.IDENTIFIER), False),
    ("decidees", "Décidées", DECIDED, True),
    ("exclues", "Exclues", Q(excluded=True), False),
    ("deja-importees", "Déjà importées", Q(status=RowStatus.ALREADY), False),
]
CSV_CLASSES = {"non-reconnues", "erreurs", "a-confirmer"}


def _import(request, uuid):
    subsidy_import = get_object_or_404(
        SubsidyImport.objects.visible_to(request.user).select_related("partner", "scheme", "uploaded_by"), uuid=uuid
    )
    if not permissions.can_manage_partner_funding(request.user, subsidy_import.partner):
        raise PermissionDenied
    return subsidy_import


def _name(key):
    return key.replace("-", "_")  # a name templates can read


def _counts(subsidy_import):
    """Rows by class, and what the confirmation writes, in one query."""
    to_import = Q(excluded=False, structure__isnull=False) & (
        Q(status=RowStatus.IDENTIFIER) | Q(status__in=[RowStatus.NAME, RowStatus.NONE], decision=Decision.CHOSEN)
    )
    aggregates = {_name(key): Count("pk", filter=condition) for key, _, condition, _ in CLASSES}
    aggregates["to_import"] = Count("pk", filter=to_import)
    aggregates["to_import_amount"] = Sum("amount", filter=to_import)
    aggregates["left_out"] = Count("pk", filter=Q(decision=Decision.LEFT_OUT))
    aggregates["remembered"] = Count("pk", filter=Q(remembered=True))
    aggregates["with_warnings"] = Count("pk", filter=~Q(warnings=""))
    return subsidy_import.rows.aggregate(**aggregates)


def _groups(rows, number, user):
    """A page of groups (one SIREN or one name) with their rows' totals and candidates."""
    groups = (
        rows.values("group_key")
        .annotate(
            rows=Count("pk"),
            total=Sum("amount"),
            first=Min("pk"),
            first_year=Min("year"),
            last_year=Max("year"),
            decided=Max("structure_id"),
        )
        .order_by("-total", "group_key")
    )
    page = Paginator(groups, GROUPS_PER_PAGE).get_page(number)
    firsts = {
        row.pk: row
        for row in rows.model.objects.filter(pk__in=[g["first"] for g in page.object_list]).select_related("structure")
    }
    wanted = {pk for row in firsts.values() for pk, _ in row.candidates} | {
        g["decided"] for g in page.object_list if g["decided"]
    }
    structures = Structure.objects.visible_to(user).select_related("commune").in_bulk(wanted)
    for group in page.object_list:
        first = firsts[group["first"]]
        group["row"] = first
        group["candidates"] = [(structures[pk], score) for pk, score in first.candidates if pk in structures]
        group["structure"] = structures.get(group["decided"])
    return page


def scdl_import(request, uuid):
    """Review of an uploaded SCDL file, computed once at its check; nothing is written before the
    confirmation, and then every row to import is, or none."""
    subsidy_import = _import(request, uuid)
    if request.method == "POST":
        return _post(request, subsidy_import)
    if request.htmx and request.GET.get("etat"):
        if subsidy_import.is_working:
            return render(request, "funding/_scdl_state.html", {"subsidy_import": subsidy_import})
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"  # the work is over: the whole review appears
        return response
    chosen = request.GET.get("classe", "")
    rows = subsidy_import.rows.all()
    counts = _counts(subsidy_import) if subsidy_import.row_count else {}
    if chosen not in {key for key, *_ in CLASSES}:
        chosen = next((key for key, *_ in CLASSES if counts.get(_name(key))), "identifiant")
    _, label, condition, grouped = next(c for c in CLASSES if c[0] == chosen)
    if request.GET.get("format") == "csv" and chosen in CSV_CLASSES:
        return _csv(subsidy_import, rows.filter(condition), chosen)
    selected = rows.filter(condition)
    page = (
        _groups(selected, request.GET.get("page"), request.user)
        if grouped
        else paginate(selected.select_related("structure").order_by("number"), request.GET.get("page"), ROWS_PER_PAGE)
    )
    partner = subsidy_import.partner
    context = {
        "subsidy_import": subsidy_import,
        "partner": partner,
        "counts": counts,
        "classes": [(key, text, counts.get(_name(key), 0)) for key, text, _, _ in CLASSES],
        "chosen": chosen,
        "chosen_label": label,
        "grouped": grouped,
        "page": page,
        "query": urlencode({"classe": chosen}),
        "csv_allowed": chosen in CSV_CLASSES,
        "background": counts.get("to_import", 0) > settings.CADRE_IMPORT_INLINE_MAX_WRITES,
        "title": f"Import SCDL : {subsidy_import.file_name}",
        "breadcrumb": [
            ("Partenaires", reverse("partners:list")),
            (partner.name, reverse("partners:detail", args=[partner.uuid])),
            ("Format SCDL", reverse("funding:scdl", args=[partner.uuid])),
            ("Import", None),
        ],
    }
    return render(request, "funding/scdl_import.html", context)


def _post(request, subsidy_import):
    action = request.POST.get("action")
    back = request.get_full_path()
    try:
        if action == "decider":
            decided = _decide(request, subsidy_import)
            messages.success(
                request, f"{decided} ligne{'s' if decided > 1 else ''} décidée{'s' if decided > 1 else ''}."
            )
        elif action in ("exclure-erreurs", "reintegrer-erreurs"):
            count = actions.exclude_error_rows(subsidy_import, exclude=action == "exclure-erreurs")
            messages.success(
                request,
                f"{count} ligne{'s' if count > 1 else ''} en erreur "
                + ("exclue" if action == "exclure-erreurs" else "réintégrée")
                + ("s" if count > 1 else "")
                + ".",
            )
        elif action == "confirmer":
            if actions.rows_to_import(subsidy_import).count() > settings.CADRE_IMPORT_INLINE_MAX_WRITES:
                actions.start_subsidy_apply(subsidy_import, actor=request.user)
                return redirect(back)
            written = actions.apply_subsidy_import(subsidy_import, actor=request.user)
            messages.success(
                request,
                f"{written} subvention{'s' if written > 1 else ''} importée{'s' if written > 1 else ''} comme "
                f"ligne{'s' if written > 1 else ''} de financement votée{'s' if written > 1 else ''}.",
            )
            return redirect("funding:partner", uuid=subsidy_import.partner.uuid)
    except ValidationError as error:
        for message in error.messages[:20]:
            messages.error(request, message)
    return redirect(back)


def _decide(request, subsidy_import):
    """The page's decisions: `d-<row id>` = a structure's uuid, « aucune » (leave out) or « annuler »."""
    decided = 0
    choices = {key[2:]: value for key, value in request.POST.items() if key.startswith("d-") and value}
    rows = subsidy_import.rows.in_bulk([int(pk) for pk in choices if pk.isdigit()])
    visible = Structure.objects.visible_to(request.user)
    for pk, value in choices.items():
        row = rows.get(int(pk)) if pk.isdigit() else None
        if row is None:
            continue
        if value == "aucune":
            decided += actions.decide_subsidy_group(subsidy_import, row, None, actor=request.user, left_out=True)
        elif value == "annuler":
            actions.decide_subsidy_group(subsidy_import, row, None, actor=request.user)
        else:
            structure = visible.filter(uuid=value).first() if len(value) == 36 else None
            if structure is None:
                raise ValidationError(f"Ligne {row.number} : cette structure n'est pas dans votre périmètre.")
            decided += actions.decide_subsidy_group(subsidy_import, row, structure, actor=request.user)
    return decided


def _csv(subsidy_import, rows, chosen):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        ["ligne", "nomBeneficiaire", "idBeneficiaire", "rnaBeneficiaire", "annee", "dateConvention", "montant",
         "referenceDecision", "objet", "motif"]
    )  # fmt: skip
    for row in rows.order_by("number").iterator(chunk_size=2000):
        reason = row.errors or row.warnings or ("à confirmer" if row.status == RowStatus.NAME else "non reconnue")
        writer.writerow(
            [
                row.number, row.name, row.identifier, row.rna, row.year or "",
                row.signed.isoformat() if row.signed else "", f"{row.amount}".replace(".", ",") if row.amount else "",
                row.reference, row.purpose, reason.replace("\n", " ; "),
            ]
        )  # fmt: skip
    response = HttpResponse(buffer.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    name = slugify(subsidy_import.file_name.rsplit(".", 1)[0])[:60]
    response["Content-Disposition"] = f'attachment; filename="{name}-{chosen}.csv"'
    return response
