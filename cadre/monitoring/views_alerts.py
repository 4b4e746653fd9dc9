"""Pages of the early warning: the partners' alerts list and its exports, the acknowledgement of an alert, the
e-mail subscriptions, a structure's financial health (its status, and each ratio over the years beside the
département's quartiles), and the administrators' alert rules."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from cadre.core.charts import line_chart
from cadre.core.exports import tabular_response
from cadre.core.sorting import sort_headers
from cadre.core.stamps import user_key
from cadre.monitoring import alert_tasks, permissions
from cadre.monitoring.alert_models import (
    ALERT_LIST,
    HEALTH_FIGURES,
    SIGNALS,
    AlertAcknowledgement,
    AlertRule,
    AlertSubscription,
    HealthLevel,
    HealthStatus,
    RatioQuartiles,
    current_status,
)
from cadre.monitoring.forms_alerts import ALERT_COLUMNS, AcknowledgementForm, AlertFilterForm, AlertRuleForm
from cadre.monitoring.ratios import RATIOS
from cadre.structures.models import Structure, StructureKind

LEVEL_BADGES = {
    HealthLevel.GREEN: "fr-badge--success",
    HealthLevel.VIGILANCE: "fr-badge--warning",
    HealthLevel.ALERT: "fr-badge--error",
}
LIST_FIELDS = [
    "pk",
    "year",
    "level",
    "facts",
    "level_since",
    "structure__uuid",
    "structure__name",
    "structure__kind",
    "structure__commune__name",
    "structure__commune__department_id",
]


def _acknowledgement_state(status):
    """« prise en compte », « nouvelle alerte » (an earlier level was, this one is not), or nothing yet."""
    if status.level == HealthLevel.GREEN:
        return ""
    if status.acknowledged:
        return "prise en compte"
    return "nouvelle alerte" if status.ever_acknowledged else "à prendre en compte"


def _latest_acknowledgements(pairs):
    """{(structure id, year): the latest AlertAcknowledgement} of these pairs, in one query."""
    if not pairs:
        return {}
    found = {}
    rows = (
        AlertAcknowledgement.objects.filter(structure_id__in={s for s, _ in pairs}, year__in={y for _, y in pairs})
        .select_related("acknowledged_by")
        .order_by("-acknowledged_at", "-pk")
    )
    for ack in rows:
        found.setdefault((ack.structure_id, ack.year), ack)
    return found


def _filter_form(request):
    if not permissions.can_view_alerts(request.user):
        raise PermissionDenied
    return AlertFilterForm(request.GET, user=request.user)


def _rows(statuses, user):
    # Only an acknowledged status shows its latest acknowledgement.
    acknowledgements = _latest_acknowledgements({(s.structure_id, s.year) for s in statuses if s.acknowledged})
    rows = []
    for status in statuses:
        structure = status.structure
        ack = acknowledgements.get((status.structure_id, status.year))
        state = _acknowledgement_state(status)
        rows.append(
            {
                "status": status,
                "structure": structure,
                "health_url": reverse("monitoring:health", args=[structure.uuid]),
                "acknowledge_url": reverse("monitoring:alert_acknowledge", args=[structure.uuid, status.year]),
                "is_evs": structure.kind == StructureKind.EVS,
                "commune": structure.commune.name,
                "department": structure.commune.department_id,
                "badge": LEVEL_BADGES[status.level],
                "facts": " ; ".join(status.fact_texts),
                "state": state,
                "last": ack if state == "prise en compte" else None,
                "can_acknowledge": permissions.can_acknowledge(user, status),
            }
        )
    return rows


def _listed_ids(request, form):
    """The pks of the list's statuses in its order: kept (ALERT_LIST) for this user, these filters and this day
    until a status, an acknowledgement or a structure changes."""
    filters = tuple(sorted((name, tuple(values)) for name, values in request.GET.lists() if name != "page"))
    key = (user_key(request.user), filters, timezone.localdate())

    def build():
        queryset = form.apply(HealthStatus.objects.visible_to(request.user))
        return list(queryset.values_list("pk", flat=True))

    return ALERT_LIST.get(key, build)


def _statuses(pks):
    """The statuses `pks` (already in the user's scope), in that order, ready for _rows."""
    found = HealthStatus.objects.select_related("structure__commune").with_acknowledgement().in_bulk(pks)
    return [found[pk] for pk in pks if pk in found]


def alerts(request):
    """The statuses of the structures in the user's scope, vigilance and alerte first (filters, pages), sorted by
    its column headers (the `sort` parameter, which the exports follow too)."""
    form = _filter_form(request)
    page = Paginator(_listed_ids(request, form), settings.CADRE_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _statuses(page.object_list)
    can_subscribe_to_all = permissions.can_subscribe_to_all(request.user)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": _rows(page.object_list, request.user),
        "query": query.urlencode(),
        "headers": sort_headers(ALERT_COLUMNS, request.GET, form.sort_key),
        "sort": form.sort_key,
        "subscribed_to_all": can_subscribe_to_all
        and AlertSubscription.objects.filter(user=request.user, structure__isnull=True).exists(),
        "can_subscribe_to_all": can_subscribe_to_all,
        "can_edit_rules": permissions.can_edit_rules(request.user),
        "title": "Alertes des structures",
        "breadcrumb": [("Alertes", None)],
    }
    template = (
        "monitoring/alerts_results.html" if request.htmx and not request.htmx.boosted else "monitoring/alerts.html"
    )
    return render(request, template, context)


EXPORT_HEADERS = [
    "Structure",
    "Type",
    "Commune",
    "Département",
    "Exercice",
    "État",
    "Faits",
    "Prise en compte",
    "Dernier commentaire",
    "Par",
    "Le",
]


def alerts_export(request, fmt):
    """The list as CSV or XLSX, with the page's filters, scope and order (its statuses found as the page finds
    them): a few queries, whatever the count."""
    statuses = _statuses(_listed_ids(request, _filter_form(request)))
    acknowledgements = _latest_acknowledgements({(s.structure_id, s.year) for s in statuses})
    kinds = dict(StructureKind.choices)
    rows = []
    for status in statuses:
        structure = status.structure
        ack = acknowledgements.get((status.structure_id, status.year))
        rows.append(
            [
                structure.name,
                kinds.get(structure.kind, structure.kind),
                structure.commune.name,
                structure.commune.department_id,
                status.year,
                status.get_level_display(),
                " ; ".join(status.fact_texts),
                _acknowledgement_state(status),
                ack.comment if ack else None,
                ack.acknowledged_by.display_name if ack and ack.acknowledged_by else None,
                timezone.localtime(ack.acknowledged_at) if ack else None,
            ]
        )
    filename = f"alertes-{timezone.localdate().isoformat()}"
    return tabular_response(fmt, filename, EXPORT_HEADERS, rows, "Alertes")


def _structure(request, uuid):
    return get_object_or_404(Structure.objects.visible_to(request.user).select_related("commune"), uuid=uuid)


def acknowledge(request, uuid, year):
    """Acknowledge a structure's status of a year with a comment; the earlier acknowledgements stay listed."""
    structure = _structure(request, uuid)
    status = get_object_or_404(HealthStatus.objects.filter(structure=structure).with_acknowledgement(), year=year)
    if not permissions.can_acknowledge(request.user, status):
        raise PermissionDenied
    form = AcknowledgementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ack = form.save(commit=False)
        ack.structure, ack.year, ack.level, ack.facts = structure, year, status.level, status.facts
        ack.acknowledged_by = request.user
        ack.save()
        what = "L'alerte" if status.level == HealthLevel.ALERT else "La vigilance"
        messages.success(request, f"{what} {year} de {structure.name} est prise en compte.")
        return redirect("monitoring:alerts")
    context = {
        "structure": structure,
        "status": status,
        "badge": LEVEL_BADGES[status.level],
        "state": _acknowledgement_state(status),
        "form": form,
        "history": AlertAcknowledgement.objects.filter(structure=structure, year=year).select_related(
            "acknowledged_by"
        ),
        "cancel_url": reverse("monitoring:alerts"),
        "title": f"Prendre en compte : {structure.name} ({year})",
        "breadcrumb": [("Alertes", reverse("monitoring:alerts")), (f"{structure.name} ({year})", None)],
    }
    return render(request, "monitoring/alerts_acknowledge.html", context)


@require_POST
def subscribe(request, uuid):
    """Follow (or stop following) one structure's turning to alerte by e-mail."""
    structure = _structure(request, uuid)
    if not permissions.can_subscribe(request.user, structure, timezone.localdate()):
        raise PermissionDenied
    deleted, _ = AlertSubscription.objects.filter(user=request.user, structure=structure).delete()
    if deleted:
        messages.success(request, f"Vous ne recevrez plus d'e-mail quand {structure.name} passe en alerte.")
    else:
        AlertSubscription.objects.create(user=request.user, structure=structure)
        messages.success(request, f"Vous recevrez un e-mail quand {structure.name} passera en alerte.")
    return redirect("monitoring:health", uuid=structure.uuid)


@require_POST
def subscribe_all(request):
    """Follow (or stop following) every structure the user's partners fund."""
    if not permissions.can_subscribe_to_all(request.user):
        raise PermissionDenied
    deleted, _ = AlertSubscription.objects.filter(user=request.user, structure__isnull=True).delete()
    if deleted:
        messages.success(
            request, "Vous ne recevrez plus d'e-mail pour toutes les structures que finance votre partenaire."
        )
    else:
        AlertSubscription.objects.create(user=request.user, structure=None)
        messages.success(
            request, "Vous recevrez un e-mail quand une structure que finance votre partenaire passera en alerte."
        )
    return redirect("monitoring:alerts")


# -- A structure's financial health ---------------------------------------------------------------------------

CHART_UNITS = {"%": ("%", 1), "jours": ("j", 1), "mois": ("mois", 1), "€": ("€", 0), "exercices": ("", 0)}


def ratio_figures(structure, statuses, quartiles):
    """One line chart per ratio: the structure's values over its years beside the département's first quartile,
    median and third quartile of each year; each figure carries its data table."""
    years = [status.year for status in statuses if status.ratios]
    if not years:
        return []
    by_year = {status.year: status for status in statuses}
    found = []
    for ratio in RATIOS:
        unit, decimals = CHART_UNITS.get(ratio.unit, (ratio.unit, 1))
        values = {
            structure.name: [by_year[year].ratio(ratio.code) for year in years],
            "1er quartile du département": [],
            "Médiane du département": [],
            "3e quartile du département": [],
        }
        for year in years:
            row = quartiles.get((year, ratio.code))
            values["1er quartile du département"].append(row.first_quartile if row else None)
            values["Médiane du département"].append(row.median if row else None)
            values["3e quartile du département"].append(row.third_quartile if row else None)
        figure = line_chart(
            years, values, title=f"{ratio.label} ({ratio.unit})", unit=unit, decimals=decimals, from_zero=False
        )
        found.append((ratio, figure))
    return found


def _figures_context(structure, statuses):
    quartiles = {
        (row.year, row.ratio): row
        for row in RatioQuartiles.objects.filter(
            department_id=structure.commune.department_id, year__in=[s.year for s in statuses if s.ratios]
        )
    }
    return {
        "structure": structure,
        "figures": ratio_figures(structure, statuses, quartiles),
        "formulas": RATIOS,
        "rules": AlertRule.objects.active(),
    }


def health(request, uuid):
    """The structure's current status with its facts and acknowledgements, then each ratio over the years beside
    the département's quartiles, each chart followed by its table, its formula and its method."""
    structure = _structure(request, uuid)
    today = timezone.localdate()
    statuses = list(HealthStatus.objects.filter(structure=structure).with_acknowledgement().order_by("year"))
    current = current_status(statuses, today)
    can_subscribe = permissions.can_subscribe(request.user, structure, today)
    context = {
        "structure": structure,
        "current": current,
        "badge": LEVEL_BADGES[current.level] if current else "",
        "state": _acknowledgement_state(current) if current else "",
        "can_acknowledge": current is not None and permissions.can_acknowledge(request.user, current),
        "history": AlertAcknowledgement.objects.filter(structure=structure)
        .select_related("acknowledged_by")
        .order_by("-acknowledged_at", "-pk"),
        "earlier": [status for status in reversed(statuses) if status is not current],
        "figures": mark_safe(  # our own template rendered it (escaped)
            HEALTH_FIGURES.get(
                (structure.pk, structure.name, structure.commune.department_id),
                lambda: render_to_string("monitoring/_health_figures.html", _figures_context(structure, statuses)),
            )
        ),
        "can_subscribe": can_subscribe,
        "subscribed": can_subscribe
        and AlertSubscription.objects.filter(user=request.user, structure=structure).exists(),
        "can_view_alerts": permissions.can_view_alerts(request.user),
        "title": f"Santé financière : {structure.name}",
        "breadcrumb": [
            ("Structures", reverse("structures:list")),
            (structure.name, reverse("structures:detail", args=[structure.uuid])),
            ("Santé financière", None),
        ],
    }
    return render(request, "monitoring/health.html", context)


# -- Alert rules (administrators) -----------------------------------------------------------------------------


def _rules_only(request):
    if not permissions.can_edit_rules(request.user):
        raise PermissionDenied


def _recompute_after_commit():
    """A rule changed: every status is recomputed in the background, once the change is committed."""
    transaction.on_commit(lambda: alert_tasks.recompute_all.enqueue())


def rule_condition(rule):
    signal = SIGNALS.get(rule.signal)
    unit = f" {signal.unit}" if signal and signal.unit else ""
    years = f", {rule.consecutive_years} exercices de suite" if rule.consecutive_years > 1 else ""
    threshold = f"{rule.threshold.normalize():f}".replace(".", ",")
    return f"{rule.get_comparison_display()} {threshold}{unit}{years}"


def rules(request):
    _rules_only(request)
    rows = [
        {
            "rule": rule,
            "signal": SIGNALS[rule.signal].label if rule.signal in SIGNALS else rule.signal,
            "condition": rule_condition(rule),
            "badge": LEVEL_BADGES[HealthLevel(rule.severity)],
        }
        for rule in AlertRule.objects.all()
    ]
    context = {
        "rows": rows,
        "title": "Règles d'alerte",
        "breadcrumb": [("Alertes", reverse("monitoring:alerts")), ("Règles d'alerte", None)],
    }
    return render(request, "monitoring/rules.html", context)


def _rule_form_page(request, form, title):
    context = {
        "form": form,
        "title": title,
        "cancel_url": reverse("monitoring:rules"),
        "breadcrumb": [
            ("Alertes", reverse("monitoring:alerts")),
            ("Règles d'alerte", reverse("monitoring:rules")),
            (title, None),
        ],
    }
    return render(request, "monitoring/rules_form.html", context)


def rule_create(request):
    _rules_only(request)
    form = AlertRuleForm(request.POST or None, initial={"consecutive_years": 1, "active": True})
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            position = max(AlertRule.objects.values_list("position", flat=True), default=0) + 1
            form.instance.position = position
            rule = form.save_tracked(request.user)
            _recompute_after_commit()
        messages.success(request, f"La règle « {rule.name} » est créée : les états se recalculent.")
        return redirect("monitoring:rules")
    return _rule_form_page(request, form, "Nouvelle règle d'alerte")


def rule_edit(request, uuid):
    _rules_only(request)
    rule = get_object_or_404(AlertRule, uuid=uuid)
    form = AlertRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save_or_conflict(request.user)
            if saved is not None:
                _recompute_after_commit()
        if saved is not None:
            messages.success(request, f"La règle « {saved.name} » est enregistrée : les états se recalculent.")
            return redirect("monitoring:rules")
    return _rule_form_page(request, form, f"Modifier la règle « {rule.name} »")


@require_POST
def rule_toggle(request, uuid):
    _rules_only(request)
    with transaction.atomic():
        rule = get_object_or_404(AlertRule.objects.select_for_update(), uuid=uuid)
        rule.active = not rule.active
        rule.save_tracked(user=request.user)
        _recompute_after_commit()
    state = "activée" if rule.active else "désactivée"
    messages.success(request, f"La règle « {rule.name} » est {state} : les états se recalculent.")
    return redirect("monitoring:rules")
