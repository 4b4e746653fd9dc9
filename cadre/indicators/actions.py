"""Writes of the indicators: a definition saved as a new version, its values recomputed after."""

from django.db import transaction
from django.utils import timezone

from cadre.indicators import tasks
from cadre.indicators.models import Indicator

# The fields that define an indicator: a change in any of them makes a new version.
DEFINING_FIELDS = [
    "title",
    "theme",
    "position",
    "kind",
    "unit",
    "decimals",
    "method",
    "is_public",
    "structure_kinds",
    "managements",
    "priority_area",
    "approval_kinds",
    "source",
    "operator",
    "threshold",
    "choice_codes",
    "denominator",
]


def define_indicator(code, fields, *, actor=None, recompute=True):
    """Save the definition `fields` of indicator `code`: ("created" | "new_version" | "unchanged", Indicator).

    The previous version is kept with its values (marked replaced); the new one's values are computed
    in the background, unless `recompute` is false (the caller rebuilds). ValidationError (French, by
    field) for a definition that cannot be computed.
    """
    with transaction.atomic():
        current = Indicator.objects.select_for_update().filter(code=code).current().first()
        candidate = Indicator(code=code, created_by=actor, **fields)
        candidate.version = current.version + 1 if current else 1
        # Not the constraints: the current version is replaced below.
        candidate.full_clean(exclude=["uuid"], validate_constraints=False)
        if current and all(getattr(current, f) == getattr(candidate, f) for f in DEFINING_FIELDS):
            return "unchanged", current
        if current:
            current.replaced_at = timezone.now()
            current.save(update_fields=["replaced_at"])
        candidate.save()
        if recompute:
            tasks.rebuild.enqueue([candidate.pk])
    return ("new_version" if current else "created"), candidate
