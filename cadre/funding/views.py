import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from cadre.agreements.models import Agreement
from cadre.core.exports import EUROS_FORMAT, cached_file, file_response, xlsx_bytes
from cadre.core.forms import add_model_errors
from cadre.core.french import plural
from cadre.core.pdf import pdf_file_response, render_pdf
from cadre.core.stamps import user_key
from cadre.core.uploads import stored_file_response
from cadre.funding import actions, calendar, permissions, queries, scdl_export
from cadre.funding.forms import (
    CommitForm,
    DepositForm,
    EnvelopeForm,
    FundingLineForm,
    PaymentForm,
    PaymentStepForm,
    RequiredDocumentForm,
    ReviewForm,
    SchemeYearForm,
    SubsidyFileForm,
    partners_for,
)
from cadre.funding.models import (
    ZERO,
    CalendarFeed,
    Document,
    Envelope,
    FundingLine,
    FundingScheme,
    Payment,
    PaymentStep,
    RequiredDocument,
    SchemeYear,
    SubsidyImport,
    expected_of_line,
)
from cadre.partners.models import Partner
from cadre.structures import permissions as structure_permissions
from cadre.structures.models import Structure


def structure_funding(request, uuid):
    structure = get_object_or_404(Structure.objects.visible_to(request.user).select_related("commune"), uuid=uuid)
    context = {
        "structure": structure,
        "years": queries.structure_funding(structure, request.user),
        "can_record": permissions.can_record_funding(request.user),
        "title": f"Financements de {structure.name}",
        "breadcrumb": [
            ("Structures", reverse("structures:list")),
            (structure.name, reverse("structures:detail", args=[structure.uuid])),
            ("Financements", None),
        ],
    }
    return render(request, "funding/structure.html", context)


def partner_funding(request, uuid):
    partner = get_object_or_404(Partner.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_see_partner_funding(request.user, partner):
        raise PermissionDenied
    try:
        year = int(request.GET.get("annee") or 0) or None
    except ValueError:
        year = None
    years, year, funding = queries.partner_page(partner, year)
    context = {
        "partner": partner,
        "years": funding,
        "all_years": years,
        "year": year,
        "title": f"Financements de {partner.name}",
        "breadcrumb": [
            ("Partenaires", reverse("partners:list")),
            (partner.name, reverse("partners:detail", args=[partner.uuid])),
            ("Financements", None),
        ],
    }
    return render(request, "funding/partner.html", context)


def agreement_funding(request, uuid):
    """The funding lines committed under an agreement that the user sees in detail, by year."""
    agreement = get_object_or_404(Agreement.objects.visible_to(request.user), uuid=uuid)
    lines = queries.with_paid(
        FundingLine.objects.visible_to(request.user)
        .filter(agreement=agreement)
        .select_related("structure", "partner", "scheme")
    ).order_by("year", "structure__name", "partner__name")
    years = {}
    for line in lines:
        years.setdefault(line.year, []).append(line)
    context = {
        "agreement": agreement,
        "years": [(year, items, sum((line.amount or ZERO for line in items), ZERO)) for year, items in years.items()],
        "total": sum((line.amount or ZERO for line in lines), ZERO),
        "title": f"Financements : {agreement.title}",
        "breadcrumb": [
            ("Conventions", reverse("agreements:list")),
            (agreement.title, reverse("agreements:detail", args=[agreement.uuid])),
            ("Financements", None),
        ],
    }
    return render(request, "funding/agreement.html", context)


def _line(request, uuid, *prefetched):
    queryset = (
        FundingLine.objects.visible_to(request.user)
        .select_related("structure", "partner", "scheme", "agreement")
        .prefetch_related(*prefetched)
    )
    return get_object_or_404(queryset, uuid=uuid)


def _line_crumbs(line, last):
    return [
        ("Structures", reverse("structures:list")),
        (line.structure.name, reverse("structures:detail", args=[line.structure.uuid])),
        ("Financements", reverse("funding:structure", args=[line.structure.uuid])),
        (last, None),
    ]


def line_detail(request, uuid):
    line = _line(request, uuid, "scheme__years")  # the year's rule, read for the amount and shown
    can_manage = permissions.can_manage_line(request.user, line)
    payments = list(line.payments.all())
    expected = expected_of_line(line, payments)
    # The next payment the schedule expects, offered as the one to record.
    initial = {"kind": expected[0].step.kind, "amount": expected[0].amount} if expected else None
    form = PaymentForm(request.POST or None, line=line, initial=initial) if can_manage else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.record_payment(
                    line,
                    actor=request.user,
                    kind=data["kind"],
                    amount=data["amount"],
                    paid_on=data["paid_on"],
                    reference=data["reference"],
                )
            except ValidationError as error:
                add_model_errors(form, error)
            else:
                messages.success(request, "Le versement a été enregistré.")
                return redirect("funding:line", uuid=line.uuid)
    computed, reason = line.computed_amount()
    paid = sum((p.amount for p in payments), ZERO)
    # The envelope that created the line, linked for those who see it (its partner's staff).
    envelope = (
        Envelope.objects.visible_to(request.user)
        .select_related("scheme", "partner")
        .filter(pk=line.envelope_id)
        .first()
        if line.envelope_id
        else None
    )
    context = {
        "line": line,
        "envelope": envelope,
        "payments": payments,
        "expected": expected,
        "steps": line.scheme.payment_steps.all(),
        "paid": paid,
        "left_to_pay": (line.voted - paid) if line.voted is not None else None,
        "computed": computed,
        "computed_reason": reason,
        "year_rule": line.scheme.year_rule(line.year) if line.scheme.is_computed else None,
        "form": form,
        "can_manage": can_manage,
        "title": f"{line.scheme.name} {line.year}",
        "breadcrumb": _line_crumbs(line, f"{line.partner.short_name or line.partner.name}, {line.year}"),
    }
    return render(request, "funding/line.html", context)


def line_create(request, uuid):
    structure = get_object_or_404(Structure.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_record_funding(request.user):
        raise PermissionDenied
    form = FundingLineForm(request.POST or None, partners=partners_for(request.user), structure=structure)
    if request.method == "POST" and form.is_valid():
        line = form.save_tracked(request.user)
        messages.success(request, "La ligne de financement a été enregistrée.")
        return redirect("funding:line", uuid=line.uuid)
    return _line_form(request, form, structure, "Nouvelle ligne de financement")


def line_edit(request, uuid):
    line = _line(request, uuid)
    if not permissions.can_manage_line(request.user, line):
        raise PermissionDenied
    form = FundingLineForm(
        request.POST or None,
        instance=line,
        partners=Partner.objects.filter(pk=line.partner_id),
        structure=line.structure,
    )
    if request.method == "POST" and form.is_valid() and form.save_or_conflict(request.user) is not None:
        messages.success(request, "Les modifications ont été enregistrées.")
        return redirect("funding:line", uuid=line.uuid)
    return _line_form(request, form, line.structure, "Modifier la ligne de financement", line)


def _line_form(request, form, structure, title, line=None):
    crumbs = [
        ("Structures", reverse("structures:list")),
        (structure.name, reverse("structures:detail", args=[structure.uuid])),
        ("Financements", reverse("funding:structure", args=[structure.uuid])),
        (title, None),
    ]
    cancel = reverse("funding:line", args=[line.uuid]) if line else reverse("funding:structure", args=[structure.uuid])
    context = {"form": form, "title": title, "breadcrumb": crumbs, "cancel_url": cancel, "structure": structure}
    return render(request, "funding/line_form.html", context)


def scheme_list(request):
    schemes = FundingScheme.objects.visible_to(request.user).prefetch_related("years")
    context = {
        "schemes": schemes,
        "can_configure": permissions.can_configure_schemes(request.user),
        "title": "Dispositifs de financement",
        "breadcrumb": [("Dispositifs de financement", None)],
    }
    return render(request, "funding/schemes.html", context)


def _scheme_page(request, scheme, **forms):
    """The scheme's page; for an administrator with its forms (those given carry the errors to show)."""
    can_configure = permissions.can_configure_schemes(request.user)
    if can_configure:
        forms.setdefault("form", SchemeYearForm(scheme=scheme))
        forms.setdefault("document_form", RequiredDocumentForm(scheme=scheme))
        forms.setdefault("step_form", PaymentStepForm(scheme=scheme))
    context = {
        "scheme": scheme,
        "years": scheme.years.all(),
        "documents": scheme.required_documents.all(),
        "steps": scheme.payment_steps.all(),
        "can_configure": can_configure,
        "title": scheme.name,
        "breadcrumb": [("Dispositifs de financement", reverse("funding:schemes")), (scheme.name, None)],
        **forms,
    }
    return render(request, "funding/scheme.html", context)


def scheme_detail(request, uuid):
    return _scheme_page(request, get_object_or_404(FundingScheme.objects.visible_to(request.user), uuid=uuid))


def _configured_scheme(request, uuid):
    scheme = get_object_or_404(FundingScheme.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_configure_schemes(request.user):
        raise PermissionDenied
    return scheme


@require_POST
def scheme_year(request, uuid):
    """Add a year's rate and ceiling, or correct those of a year already entered."""
    scheme = _configured_scheme(request, uuid)
    year = request.POST.get("year", "")
    instance = SchemeYear.objects.filter(scheme=scheme, year=int(year)).first() if year.isdigit() else None
    form = SchemeYearForm(request.POST, instance=instance, scheme=scheme)
    if form.is_valid():
        saved = form.save()
        messages.success(request, f"Le barème {saved.year} a été enregistré.")
        return redirect("funding:scheme", uuid=scheme.uuid)
    return _scheme_page(request, scheme, form=form)


@require_POST
def scheme_document(request, uuid):
    """Add a document the scheme requires each year, or take one off (`supprimer`: its id)."""
    scheme = _configured_scheme(request, uuid)
    if request.POST.get("supprimer"):
        required = get_object_or_404(RequiredDocument, scheme=scheme, uuid=request.POST["supprimer"])
        if required.documents.exists():
            messages.error(request, "Des pièces ont déjà été déposées pour cette exigence : elle reste.")
        else:
            required.delete()
            messages.success(request, "La pièce n'est plus exigée.")
        return redirect("funding:scheme", uuid=scheme.uuid)
    form = RequiredDocumentForm(request.POST, scheme=scheme)
    if form.is_valid():
        form.instance.save_tracked(user=request.user)
        messages.success(request, f"« {form.instance} » est exigée chaque année.")
        return redirect("funding:scheme", uuid=scheme.uuid)
    return _scheme_page(request, scheme, document_form=form)


@require_POST
def scheme_step(request, uuid):
    """Add a step to the scheme's payment schedule, or take one off (`supprimer`: its id)."""
    scheme = _configured_scheme(request, uuid)
    if request.POST.get("supprimer"):
        step = get_object_or_404(PaymentStep, scheme=scheme, uuid=request.POST["supprimer"])
        step._history_user = request.user
        step.delete()
        messages.success(request, f"L'échéance « {step} » est retirée de l'échéancier.")
        return redirect("funding:scheme", uuid=scheme.uuid)
    form = PaymentStepForm(request.POST, scheme=scheme)
    if form.is_valid():
        form.instance.save_tracked(user=request.user)
        messages.success(request, f"L'échéance « {form.instance} » est ajoutée à l'échéancier.")
        return redirect("funding:scheme", uuid=scheme.uuid)
    return _scheme_page(request, scheme, step_form=form)


# -- Documents owed ------------------------------------------------------------------------------


def structure_documents(request, uuid):
    structure = get_object_or_404(Structure.objects.visible_to(request.user).select_related("commune"), uuid=uuid)
    documents = queries.structure_documents(structure, request.user)
    owed = documents.owed
    can_deposit = permissions.can_deposit(request.user, structure)
    form = None
    if can_deposit:
        # The most urgent first, and proposed; the observatory questionnaire is filled in, not uploaded.
        open_items = sorted(
            (item for item in owed if item.is_open and not item.is_questionnaire), key=lambda item: item.due
        )
        form = DepositForm(request.POST or None, request.FILES or None, owed=open_items)
        if request.method == "POST" and form.is_valid():
            item = form.owed[form.cleaned_data["owed"]]
            actions.deposit(structure, item.required, item.year, form.cleaned_data["file"], actor=request.user)
            messages.success(request, f"« {item.required} {item.year} » est déposée : le financeur va l'examiner.")
            return redirect("funding:documents", uuid=structure.uuid)
    elif request.method == "POST":
        raise PermissionDenied
    context = {
        "structure": structure,
        "owed": owed,
        "form": form,
        "reviewable": documents.reviewable,
        "readable": documents.readable,
        "title": f"Pièces justificatives de {structure.name}",
        "breadcrumb": [
            ("Structures", reverse("structures:list")),
            (structure.name, reverse("structures:detail", args=[structure.uuid])),
            ("Financements", reverse("funding:structure", args=[structure.uuid])),
            ("Pièces justificatives", None),
        ],
    }
    return render(request, "funding/documents.html", context)


def document_download(request, uuid):
    document = get_object_or_404(Document.objects.visible_to(request.user), uuid=uuid)
    return stored_file_response(document)


@require_POST
def document_review(request, uuid):
    document = get_object_or_404(
        Document.objects.visible_to(request.user).select_related("required", "structure"), uuid=uuid
    )
    if not permissions.can_review(request.user, document):
        raise PermissionDenied
    form = ReviewForm(request.POST)
    url = reverse("funding:documents", args=[document.structure.uuid])
    if not form.is_valid():
        messages.error(request, "Choisissez d'accepter ou de refuser la pièce.")
        return redirect(url)
    try:
        actions.review(
            document,
            actor=request.user,
            accept=form.cleaned_data["decision"] == "accept",
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"La pièce « {document.required} {document.year} » a été examinée.")
    return redirect(url)


def overdue_documents(request):
    """The documents past their due date and not deposited (or refused), over the structures the
    user's partner funds, the user's own structures, or all of them for an administrator."""
    today = datetime.date.today()
    context = {
        "rows": queries.overdue_documents(request.user, today),
        "today": today,
        "title": "Pièces justificatives en retard",
        "breadcrumb": [("Conventions", reverse("agreements:list")), ("Pièces en retard", None)],
    }
    return render(request, "funding/overdue.html", context)


# -- Envelopes ------------------------------------------------------------------------------------


def envelope_list(request):
    envelopes = Envelope.objects.visible_to(request.user).select_related("partner", "scheme")
    context = {
        "envelopes": envelopes,
        "can_create": permissions.can_record_funding(request.user),
        "title": "Enveloppes",
        "breadcrumb": [("Conventions", reverse("agreements:list")), ("Enveloppes", None)],
    }
    return render(request, "funding/envelopes.html", context)


def envelope_create(request):
    if not permissions.can_record_funding(request.user):
        raise PermissionDenied
    form = EnvelopeForm(request.POST or None, partners=partners_for(request.user))
    if request.method == "POST" and form.is_valid():
        envelope = form.save_tracked(request.user)
        try:
            actions.simulate_envelope(envelope, list(actions.eligible_structures(envelope)))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect("funding:envelope", uuid=envelope.uuid)
    context = {
        "form": form,
        "cancel_url": reverse("funding:envelopes"),
        "title": "Nouvelle enveloppe",
        "breadcrumb": [
            ("Conventions", reverse("agreements:list")),
            ("Enveloppes", reverse("funding:envelopes")),
            ("Nouvelle enveloppe", None),
        ],
    }
    return render(request, "funding/envelope_form.html", context)


def envelope_detail(request, uuid):
    envelope = get_object_or_404(
        Envelope.objects.visible_to(request.user).select_related("partner", "scheme"), uuid=uuid
    )
    can_manage = permissions.can_manage_partner_funding(request.user, envelope.partner) and envelope.is_draft
    commit_form = CommitForm(request.POST if request.POST.get("action") == "commit" else None)
    errors = {}
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        action = request.POST.get("action")
        try:
            if action == "simulate":
                actions.simulate_envelope(envelope, list(actions.eligible_structures(envelope)))
                messages.success(request, "La répartition a été recalculée.")
                return redirect("funding:envelope", uuid=envelope.uuid)
            if action == "adjust":
                adjusted, errors = _adjustments(request.POST, envelope)
                if not errors:
                    actions.adjust_envelope(envelope, adjusted)
                    messages.success(request, "Les ajustements ont été enregistrés.")
                    return redirect("funding:envelope", uuid=envelope.uuid)
            if action == "commit" and commit_form.is_valid():
                lines = actions.commit_envelope(envelope, actor=request.user, **commit_form.cleaned_data)
                created = plural(len(lines), "ligne de financement créée,lignes de financement créées")
                messages.success(request, f"L'enveloppe est engagée : {created}.")
                return redirect("funding:envelope", uuid=envelope.uuid)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("funding:envelope", uuid=envelope.uuid)
    shares = list(envelope.shares.select_related("structure__commune"))
    for share in shares:  # what was typed comes back beside its error
        share.error = errors.get(share.pk, "")
        share.typed = request.POST.get(f"part-{share.pk}", "") if errors else None
    total = sum((share.final for share in shares), ZERO)
    lines = list(envelope.lines.select_related("structure__commune").order_by("structure__name"))
    readable = set(FundingLine.objects.visible_to(request.user).filter(envelope=envelope).values_list("pk", flat=True))
    for line in lines:
        line.can_open = line.pk in readable
    context = {
        "envelope": envelope,
        "lines": lines,
        "shares": shares,
        "errors": errors,
        "total": total,
        "difference": envelope.amount - total,
        "can_manage": can_manage,
        "commit_form": commit_form,
        "title": str(envelope),
        "breadcrumb": [
            ("Conventions", reverse("agreements:list")),
            ("Enveloppes", reverse("funding:envelopes")),
            (str(envelope), None),
        ],
    }
    return render(request, "funding/envelope.html", context)


def _adjustments(data, envelope):
    """({share id: amount or None}, {share id: French error}) from the posted « part-<id> » fields."""
    from cadre.core.forms import FrenchDecimalField

    field = FrenchDecimalField(required=False, min_value=0, max_digits=12, decimal_places=2)
    adjusted, errors = {}, {}
    for share in envelope.shares.all():
        raw = data.get(f"part-{share.pk}", "")
        try:
            value = field.clean(raw)
        except ValidationError as error:
            errors[share.pk] = " ".join(error.messages)
            continue
        adjusted[share.pk] = None if value is None or value == share.simulated else value
    return adjusted, errors


def partner_export(request, uuid):
    """The partner's funding lines as a workbook: one row per line, amounts in euros."""
    partner = get_object_or_404(Partner.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_see_partner_funding(request.user, partner):
        raise PermissionDenied
    lines = FundingLine.objects.filter(partner=partner).select_related("structure__commune", "scheme", "agreement")
    year = request.GET.get("annee", "")
    if year.isdigit():
        lines = lines.filter(year=int(year))
    headers = [
        "Année",
        "Structure",
        "Commune",
        "SIRET",
        "Dispositif",
        "Convention",
        "Prévisionnel (€)",
        "Voté (€)",
        "Décision",
        "Date de la décision",
        "Versé (€)",
        "Reste à verser (€)",
    ]
    rows = (
        [
            line.year,
            line.structure.name,
            line.structure.commune.name,
            line.structure.siret,
            line.scheme.name,
            line.agreement.reference or line.agreement.title if line.agreement_id else "",
            line.forecast,
            line.voted,
            line.decision_reference,
            line.decision_date,
            line.paid_total,
            (line.voted - line.paid_total) if line.voted is not None else None,
        ]
        for line in queries.with_paid(lines).order_by("-year", "structure__name", "scheme__name")
    )
    money = dict.fromkeys([6, 7, 10, 11], EUROS_FORMAT)
    name = f"financements-{slugify(partner.short_name or partner.name)}" + (f"-{year}" if year.isdigit() else "")
    # Kept until a line, its structure, scheme or agreement, or a payment of these lines changes.
    stamp = tuple(
        lines.order_by("pk").values_list(
            "pk", "updated_at", "structure__updated_at", "scheme__updated_at", "agreement__updated_at"
        )
    )
    payments = Payment.objects.filter(line__in=lines.values("pk")).aggregate(
        n=Count("pk"), latest=Max("updated_at"), total=Sum("amount")
    )
    content = cached_file(
        ("partner-funding", partner.pk, year, stamp, tuple(payments.values())),
        lambda: xlsx_bytes(headers, rows, "Financements", money),
    )
    return file_response(content, name, "xlsx")


# -- Obligations calendar -------------------------------------------------------------------------

CALENDAR_MONTHS_BEFORE, CALENDAR_MONTHS_AFTER = 3, 12


def _calendar_period(today):
    start = (today.replace(day=1) - datetime.timedelta(days=CALENDAR_MONTHS_BEFORE * 31)).replace(day=1)
    end = today.replace(day=1) + datetime.timedelta(days=CALENDAR_MONTHS_AFTER * 31)
    return start, end


def calendar_page(request):
    today = datetime.date.today()
    start, end = _calendar_period(today)
    events, overdue = calendar.calendar_and_overdue(request.user, today, start, end)
    feed = CalendarFeed.objects.filter(user=request.user).first()
    months = {}
    for event in events:
        months.setdefault(event.month, []).append(event)
    context = {
        "overdue": overdue,
        "months": sorted(months.items()),
        "today": today,
        "start": start,
        "end": end,
        "feed_url": request.build_absolute_uri(reverse("funding:calendar_feed", args=[feed.token])) if feed else None,
        "title": "Calendrier des échéances",
        "breadcrumb": [("Conventions", reverse("agreements:list")), ("Calendrier", None)],
    }
    return render(request, "funding/calendar.html", context)


@require_POST
def calendar_token(request):
    """A new secret address for the user's feed: the old one stops working."""
    CalendarFeed.objects.filter(user=request.user).delete()
    CalendarFeed.objects.create(user=request.user)
    messages.success(request, "Votre adresse d'abonnement a été créée : l'ancienne ne fonctionne plus.")
    return redirect("funding:calendar")


@login_not_required
def calendar_feed(request, token):
    feed = get_object_or_404(CalendarFeed.objects.select_related("user"), token=token)
    if not feed.user.is_active:
        raise Http404
    today = datetime.date.today()
    start, end = _calendar_period(today)
    # The page's own result: the same cache entry serves the user's page and their calendar client.
    events, _ = calendar.calendar_and_overdue(feed.user, today, start, end)
    base_url = request.build_absolute_uri("/").rstrip("/")
    # Written again only when an event changes: calendar clients ask often, and writing costs more than reading.
    body = cached_file(("ical", base_url, events), lambda: calendar.ical(events, base_url, timezone.now()))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="cadre-echeances.ics"'
    return response


# -- SCDL « subventions » ------------------------------------------------------------------------


def partner_scdl(request, uuid):
    """Publish the partner's subsidies in the SCDL format, or bring back a past file of its own."""
    partner = get_object_or_404(Partner.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_see_partner_funding(request.user, partner):
        raise PermissionDenied
    if request.GET.get("format") == "csv":
        year = request.GET.get("annee", "")
        response = HttpResponse(
            scdl_export.export_csv(partner, int(year) if year.isdigit() else None),
            content_type="text/csv; charset=utf-8",
        )
        name = f"subventions-{slugify(partner.short_name or partner.name)}" + (f"-{year}" if year.isdigit() else "")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    can_import = permissions.can_manage_partner_funding(request.user, partner)
    form = SubsidyFileForm(request.POST or None, request.FILES or None) if can_import else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            upload = form.cleaned_data["file"]
            subsidy_import = actions.upload_subsidy_file(
                partner, form.cleaned_data["scheme"], request.user, upload.name, upload.read()
            )
            return redirect("funding:scdl_import", uuid=subsidy_import.uuid)
    unidentified = structure_permissions.with_rights(scdl_export.unidentified_structures(partner), request.user)
    context = {
        "partner": partner,
        "form": form,
        "imports": (
            SubsidyImport.objects.visible_to(request.user)
            .filter(partner=partner)
            .select_related("uploaded_by", "scheme")
            .defer("content")[:20]
            if can_import
            else []
        ),
        "years": queries.partner_years(partner),
        "unidentified": [
            (structure, structure_permissions.can_edit_structure(request.user, structure)) for structure in unidentified
        ],
        "title": f"Subventions au format SCDL : {partner.name}",
        "breadcrumb": [
            ("Partenaires", reverse("partners:list")),
            (partner.name, reverse("partners:detail", args=[partner.uuid])),
            ("Format SCDL", None),
        ],
    }
    return render(request, "funding/scdl.html", context)


def agreement_pdf(request, uuid):
    """A printable summary of an agreement: parties, funding by year and funder, roadmap, amendments. Laying out
    a PDF costs far more than reading it: the file is kept until a table it is read from changes."""
    user, today = request.user, datetime.date.today()
    stamp = queries.AGREEMENT_SHEET.stamp()  # before the agreement is read: a change made meanwhile gives a new one
    agreement = get_object_or_404(
        Agreement.objects.visible_to(user).select_related("framework", "commune", "roadmap"), uuid=uuid
    )
    base_url = request.build_absolute_uri("/")
    key = ("agreement-pdf", stamp, user_key(user), user.display_name, agreement.pk, today, base_url)

    def make():
        context = {
            **queries.agreement_sheet(agreement, user),
            "reader": user.display_name,
            "today": today,
            "OPERATOR": settings.CADRE_OPERATOR,
        }
        return render_pdf("funding/agreement_pdf.html", context, request)

    return pdf_file_response(f"convention-{slugify(agreement.title)[:60]}", lambda: cached_file(key, make))
