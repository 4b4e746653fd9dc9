"""Pages of a structure's financial statements: the years at a glance with their ratios, the entry form, and the
sending and review of each year's accounts."""

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cadre.funding.models import Document
from cadre.monitoring import actions, permissions
from cadre.monitoring.forms import FIELDSETS, FinancialStatementForm, ReviewForm
from cadre.monitoring.models import FinancialStatement
from cadre.monitoring.prefill import from_observatory
from cadre.monitoring.ratios import RATIOS, ratios_of
from cadre.structures.models import Structure


def _structure(request, uuid):
    return get_object_or_404(Structure.objects.visible_to(request.user), uuid=uuid)


def _statement(request, uuid):
    found = FinancialStatement.objects.visible_to(request.user).select_related("structure", "accounts_document")
    return get_object_or_404(found, uuid=uuid)


def _crumbs(structure, *more):
    return [
        ("Structures", reverse("structures:list")),
        (structure.name, reverse("structures:detail", args=[structure.uuid])),
        ("Comptes annuels", reverse("monitoring:statements", args=[structure.uuid])),
        *more,
    ]


def statements(request, uuid):
    """The structure's fiscal years, each with its state and its ratios, the oldest first."""
    structure = _structure(request, uuid)
    years = list(FinancialStatement.objects.filter(structure=structure).order_by("ends_on"))
    table = [
        (ratio, [ratios_of(statement, years[: index + 1])[ratio.code] for index, statement in enumerate(years)])
        for ratio in RATIOS
    ]
    context = {
        "structure": structure,
        "years": years,
        "ratios": table,
        "formulas": RATIOS,
        "can_enter": permissions.can_enter(request.user, structure),
        "title": f"Comptes annuels : {structure.name}",
        "breadcrumb": _crumbs(structure)[:-1] + [("Comptes annuels", None)],
    }
    return render(request, "monitoring/statements.html", context)


def _next_fiscal_year(structure):
    """After the last statement's closing, one year on; else the last calendar year."""
    last = FinancialStatement.objects.filter(structure=structure).order_by("-ends_on").first()
    if last is None:
        year = datetime.date.today().year - 1
        return datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    starts = last.ends_on + datetime.timedelta(days=1)
    return starts, starts.replace(year=starts.year + 1) - datetime.timedelta(days=1)


def statement_create(request, uuid):
    structure = _structure(request, uuid)
    if not permissions.can_enter(request.user, structure):
        raise PermissionDenied
    starts_on, ends_on = _next_fiscal_year(structure)
    prefilled, campaign = from_observatory(structure, ends_on.year)
    form = FinancialStatementForm(
        request.POST or None,
        structure=structure,
        initial={"starts_on": starts_on, "ends_on": ends_on, **prefilled},
    )
    if request.method == "POST" and form.is_valid():
        statement = form.save_tracked(request.user)
        messages.success(request, f"Les comptes {statement.year} sont enregistrés : envoyez-les quand ils sont prêts.")
        return redirect("monitoring:statement", uuid=statement.uuid)
    return _form_page(request, form, structure, "Saisir des comptes annuels", prefilled_from=campaign)


def statement_edit(request, uuid):
    statement = _statement(request, uuid)
    if not permissions.can_edit(request.user, statement):
        raise PermissionDenied
    form = FinancialStatementForm(request.POST or None, instance=statement, structure=statement.structure)
    if request.method == "POST" and form.is_valid() and form.save_or_conflict(request.user) is not None:
        messages.success(request, "Les modifications sont enregistrées.")
        return redirect("monitoring:statement", uuid=statement.uuid)
    return _form_page(request, form, statement.structure, f"Modifier les comptes {statement.year}", statement)


def _form_page(request, form, structure, title, statement=None, prefilled_from=None):
    cancel = (
        reverse("monitoring:statement", args=[statement.uuid])
        if statement
        else reverse("monitoring:statements", args=[structure.uuid])
    )
    context = {
        "form": form,
        "structure": structure,
        "title": title,
        "cancel_url": cancel,
        "prefilled_from": prefilled_from,
        "breadcrumb": _crumbs(structure, (title, None)),
    }
    return render(request, "monitoring/statement_form.html", context)


def _lines(statement, fieldsets):
    return [
        (legend, [(statement._meta.get_field(name), getattr(statement, name)) for name in names])
        for legend, names in fieldsets
    ]


def statement_detail(request, uuid):
    statement = _statement(request, uuid)
    structure = statement.structure
    history = list(FinancialStatement.objects.filter(structure=structure, ends_on__lte=statement.ends_on))
    history.sort(key=lambda s: s.ends_on)
    values = ratios_of(statement, history)
    can_review = permissions.can_review(request.user, statement)
    context = {
        "statement": statement,
        "structure": structure,
        # The income statement (the form's groups up to the results) and the balance sheet, each with its totals.
        "tables": [
            (
                "Compte de résultat",
                _lines(statement, FIELDSETS[1:5]),
                [("Total des produits", statement.income), ("Total des charges", statement.expenses)],
            ),
            (
                "Bilan",
                _lines(statement, FIELDSETS[5:-1]),
                [("Total de l’actif", statement.total_assets), ("Total du passif", statement.total_liabilities)],
            ),
        ],
        "ratios": [(ratio, values[ratio.code]) for ratio in RATIOS],
        # A federation sees the accounts but not the files deposited: the file's name is then shown unlinked.
        "document_readable": statement.accounts_document_id is not None
        and Document.objects.visible_to(request.user).filter(pk=statement.accounts_document_id).exists(),
        "can_edit": permissions.can_edit(request.user, statement),
        "can_submit": permissions.can_submit(request.user, statement),
        "review_form": ReviewForm() if can_review else None,
        "title": f"Comptes {statement.year} : {structure.name}",
        "breadcrumb": _crumbs(structure, (f"Exercice {statement.year}", None)),
    }
    return render(request, "monitoring/statement.html", context)


@require_POST
def statement_submit(request, uuid):
    statement = _statement(request, uuid)
    if not permissions.can_submit(request.user, statement):
        raise PermissionDenied
    try:
        actions.submit(statement, request.user)
    except ValidationError:
        messages.error(request, "Ces comptes ne s'équilibrent pas encore : corrigez-les avant de les envoyer.")
        return redirect("monitoring:statement_edit", uuid=statement.uuid)
    except actions.StatementStateError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"Les comptes {statement.year} sont envoyés aux partenaires qui financent la structure."
        )
    return redirect("monitoring:statement", uuid=statement.uuid)


@require_POST
def statement_review(request, uuid):
    statement = _statement(request, uuid)
    if not permissions.can_review(request.user, statement):
        raise PermissionDenied
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("monitoring:statement", uuid=statement.uuid)
    try:
        if form.cleaned_data["decision"] == "accept":
            actions.accept(statement, request.user)
            messages.success(request, f"Les comptes {statement.year} sont acceptés.")
        else:
            actions.return_to_structure(statement, request.user, form.cleaned_data["comment"].strip())
            messages.success(request, f"Les comptes {statement.year} sont renvoyés à la structure avec votre motif.")
    except actions.StatementStateError as error:
        messages.error(request, str(error))
    return redirect("monitoring:statement", uuid=statement.uuid)
