"""The indicator definitions: list, detail (in plain French, with its versions) and the administrators'
forms. Saving a definition makes a new version (the old one and its values kept), recomputed in the
background; a version saved by someone else meanwhile is never silently replaced."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy

from cadre.indicators import permissions
from cadre.indicators.actions import define_indicator
from cadre.indicators.forms import IndicatorForm
from cadre.indicators.models import Indicator, IndicatorValue, Theme, share_named_questions

LIST_TITLE = "Définitions des indicateurs"
INDICATORS = ("Indicateurs", reverse_lazy("indicators:dashboard"))


def _breadcrumb(*more):
    return [INDICATORS, (LIST_TITLE, reverse("indicator_definitions:list")), *more]


def _require_definer(request):
    if not permissions.can_define_indicators(request.user):
        raise PermissionDenied


def definition_list(request):
    indicators = list(Indicator.objects.visible_to(request.user).current().select_related("created_by"))
    themes = [
        (label, [i for i in indicators if i.theme == value])
        for value, label in Theme.choices
        if any(i.theme == value for i in indicators)
    ]
    return render(
        request,
        "indicators/definitions/list.html",
        {
            "themes": themes,
            "count": len(indicators),
            "can_define": permissions.can_define_indicators(request.user),
            "title": LIST_TITLE,
            "breadcrumb": [INDICATORS, (LIST_TITLE, None)],
        },
    )


def _versions(indicator, user):
    """Every version of `indicator`'s code, the newest first, each with what changed from the one before and its
    values counted (`value_count`, `computed_at`: one grouped query for all of them)."""
    versions = list(
        Indicator.objects.visible_to(user).filter(code=indicator.code).select_related("created_by").order_by("-version")
    )
    computed = {
        row["indicator_id"]: row
        for row in IndicatorValue.objects.filter(indicator__in=[v.pk for v in versions])
        .order_by()
        .values("indicator_id")
        .annotate(n=Count("pk"), at=Max("computed_at"))
    }
    # The questions the versions' sentences name, read once for all of them (and for the page's description).
    share_named_questions([indicator, *versions])
    for version in versions:
        found = computed.get(version.pk, {})
        version.value_count, version.computed_at = found.get("n", 0), found.get("at")
    for newer, older in zip(versions, versions[1:], strict=False):
        newer.changes = newer.differences(older)
    return versions


def definition_detail(request, uuid):
    indicator = get_object_or_404(Indicator.objects.visible_to(request.user).select_related("created_by"), uuid=uuid)
    versions = _versions(indicator, request.user)
    current = next((v for v in versions if v.is_current), None)
    shown = next(v for v in versions if v.pk == indicator.pk)
    return render(
        request,
        "indicators/definitions/detail.html",
        {
            "indicator": indicator,
            "description": indicator.describe(),
            "versions": versions,
            "current": current,
            "value_count": shown.value_count,
            "computed_at": shown.computed_at,
            "can_define": permissions.can_define_indicators(request.user),
            "title": indicator.title,
            "breadcrumb": _breadcrumb((indicator.title, None)),
        },
    )


class _Conflict(Exception):
    def __init__(self, latest):
        super().__init__("Une autre version a été enregistrée entre-temps.")
        self.latest = latest


def _save(request, form, current, read=None):
    """define_indicator from the form, or None with the reasons shown in the form (nothing saved)."""
    code = current.code if current else form.cleaned_data["code"]
    read = form.cleaned_data.get("version") or read
    try:
        with transaction.atomic():
            if current is not None:
                latest = Indicator.objects.select_for_update().current().filter(code=code).first()
                if latest is None or latest.version != read:
                    raise _Conflict(latest)
            status, saved = define_indicator(code, form.definition(), actor=request.user)
            if current is None and status != "created":
                raise _Conflict(None)  # the code was taken meanwhile: undone, and who took it is read again
    except ValidationError as error:
        form.add_definition_errors(error)
        return None
    except (_Conflict, IntegrityError) as error:
        latest = getattr(error, "latest", None) or Indicator.objects.current().filter(code=code).first()
        if current is None:
            by = latest.created_by.display_name if latest and latest.created_by else "quelqu'un d'autre"
            form.add_error("code", f"{by} vient de créer un indicateur de code « {code} » : choisissez un autre code.")
        elif latest is None:
            form.add_error(None, "Cet indicateur n'a plus de version en vigueur : rien n'a été enregistré.")
        else:
            seen = Indicator.objects.filter(code=code, version=read).first() or current
            form.show_conflict(seen, latest)
        return None
    return status, saved


def _definition_form(request, current=None, read=None):
    if current is None:
        url = reverse("indicator_definitions:create")
        title = "Nouvel indicateur"
        breadcrumb = _breadcrumb((title, None))
        cancel_url = reverse("indicator_definitions:list")
    else:
        url = reverse("indicator_definitions:edit", args=[current.uuid])
        title = f"Modifier « {current.title} »"
        detail = reverse("indicator_definitions:detail", args=[current.uuid])
        breadcrumb = _breadcrumb((current.title, detail), ("Modifier", None))
        cancel_url = detail
    options = {"indicator": current, "refresh_url": url}
    form = IndicatorForm(request.POST if request.method == "POST" else None, **options)
    if request.method == "POST":
        if request.POST.get("refresh"):
            # The kind, the source or the condition changed: show what applies now, save nothing.
            form = IndicatorForm.refreshed(request.POST, **options)
            if request.htmx:
                return render(request, "indicators/definitions/_calculation.html", {"form": form})
        elif form.is_valid():
            result = _save(request, form, current, read)
            if result is not None:
                return _saved(request, *result)
    return render(
        request,
        "indicators/definitions/form.html",
        {
            "form": form,
            "indicator": current,
            "cancel_url": cancel_url,
            "title": title,
            "breadcrumb": breadcrumb,
        },
    )


def _saved(request, status, indicator):
    if status == "unchanged":
        messages.info(request, f"Aucune modification : la version {indicator.version} reste en vigueur.")
    elif status == "created":
        messages.success(
            request,
            f"L'indicateur « {indicator.title} » est créé (version 1). Ses valeurs sont calculées en arrière-plan : "
            "elles apparaissent dans les tableaux de bord dès la fin du calcul.",
        )
    else:
        messages.success(
            request,
            f"La version {indicator.version} de « {indicator.title} » est enregistrée ; la version "
            f"{indicator.version - 1} est conservée avec ses valeurs. Les valeurs de la nouvelle version sont "
            "recalculées en arrière-plan.",
        )
    return redirect("indicator_definitions:detail", uuid=indicator.uuid)


def definition_create(request):
    _require_definer(request)
    return _definition_form(request)


def definition_edit(request, uuid):
    indicator = get_object_or_404(Indicator.objects.visible_to(request.user), uuid=uuid)
    _require_definer(request)
    current = indicator if indicator.is_current else Indicator.objects.current().filter(code=indicator.code).first()
    if current is None:
        raise Http404
    if current != indicator and request.method != "POST":
        messages.info(
            request,
            f"La version {indicator.version} a été remplacée : vous modifiez la version en vigueur "
            f"({current.version}).",
        )
        return redirect("indicator_definitions:edit", uuid=current.uuid)
    # A form posted from an older version's page is checked against the version it was read at.
    return _definition_form(request, current, read=indicator.version)
