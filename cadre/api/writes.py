"""What every write does: look up in scope, apply fields, validate like the forms, save with its version."""

import re

from django.core.exceptions import ValidationError

from cadre.api.errors import ApiError, FieldErrors, django_errors
from cadre.core.models import ConcurrentEditError

IF_MATCH = re.compile(r'\s*(?:W/)?"?(\d+)"?\s*')
PRECONDITION_REQUIRED = (
    "Version manquante : envoyez l'en-tête If-Match avec la valeur de l'ETag lue par GET "
    '(par exemple If-Match: "3") ou le champ « version », pour ne pas écraser sans le savoir '
    "une modification faite entre-temps. Rien n'a été enregistré."
)


def get_or_404(queryset, detail, **lookup):
    """The object of `queryset` (already narrowed to the user's scope) or a 404: out of scope is not found."""
    found = queryset.filter(**lookup).first()
    if found is None:
        raise ApiError(404, detail)
    return found


def etag(version):
    return f'"{version}"'


def expected_version(if_match, body_version):
    """The version the client read: from If-Match, else from the body; none is a 428."""
    if if_match:
        match = IF_MATCH.fullmatch(if_match)
        if match is None:
            raise FieldErrors(
                {"If-Match": [f'En-tête If-Match invalide : « {if_match} ». Attendu : la valeur de l\'ETag, ex. "3".']},
                detail="En-tête If-Match invalide.",
                status=400,
            )
        return int(match.group(1))
    if body_version is not None:
        return body_version
    raise ApiError(428, PRECONDITION_REQUIRED)


def conflict(instance, expected):
    """409 listing what changed after the version the client read."""
    current = type(instance)._default_manager.values_list("version", flat=True).get(pk=instance.pk)
    changes = [
        {
            "field": change["label"],
            "your_version": change["seen"],
            "current": change["current"],
            "by": change["by"].display_name if change["by"] else None,
            "at": change["at"],
        }
        for change in instance.changes_since(expected)
    ]
    return ApiError(
        409,
        f"Cette fiche a été modifiée par quelqu'un d'autre depuis la version {expected} que vous avez lue "
        f"(version actuelle : {current}). Rien n'a été enregistré : relisez la fiche puis renvoyez vos changements.",
        headers={"ETag": etag(current)},
        changes=changes,
        current_version=current,
    )


def check_version(instance, expected):
    if instance.version != expected:
        raise conflict(instance, expected)


def assign_fields(instance, data, errors):
    """Copy plain field values; `null` empties a text field, and is refused where the model needs a value."""
    for name, value in data.items():
        field = instance._meta.get_field(name)
        if value is None and not field.null:
            if not field.empty_strings_allowed:
                errors[name] = ["Ce champ ne peut pas être vide (null)."]
                continue
            value = ""
        if isinstance(value, str):
            value = value.strip()
        setattr(instance, name, value)


def full_clean_into(instance, errors):
    """Run the model's own validation (field validators, clean(), constraints) on the fields not already wrong."""
    try:
        instance.full_clean(exclude=set(errors))
    except ValidationError as error:
        for field, messages in django_errors(error).items():
            errors.setdefault(field, []).extend(messages)


def save(instance, *, user, expected=None, relations=None):
    """Save with its history row (by `user`); a change made meanwhile is a 409."""
    try:
        instance.save_tracked(expected_version=expected, save_relations=relations, user=user)
    except ConcurrentEditError:
        raise conflict(instance, expected)
