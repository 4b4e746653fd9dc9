"""Readable history: who changed which field, from what to what."""

from django.db import models

HIDDEN_FIELDS = {"id", "uuid", "version", "created_at", "updated_at"}
TYPE_LABELS = {"+": "Création", "~": "Modification", "-": "Suppression"}


def display_value(record, field):
    """A field's value as a person reads it (choice labels, names of related objects)."""
    if field.many_to_many:
        related = getattr(record, field.name).all()
        return ", ".join(sorted(str(getattr(r, field.m2m_reverse_field_name())) for r in related)) or "—"
    value = getattr(record, field.attname)
    if value in (None, "", []):
        return "—"
    if field.choices:
        return dict(field.flatchoices).get(value, value)
    if isinstance(field, models.ForeignKey):
        target = getattr(record, field.name, None)
        return str(target) if target is not None else "—"
    if isinstance(field, models.BooleanField):
        return "oui" if value else "non"
    if isinstance(field, models.JSONField) and isinstance(value, list):
        return " ; ".join(str(v) for v in value) or "—"
    if hasattr(value, "strftime"):
        return value.strftime("%d/%m/%Y %H:%M" if hasattr(value, "hour") else "%d/%m/%Y")
    return str(value)


def tracked_fields(record):
    model = record.instance_type
    fields = [f for f in model._meta.concrete_fields if f.name not in HIDDEN_FIELDS]
    m2m_names = {f.name for f in getattr(record, "_history_m2m_fields", [])}
    fields += [f for f in model._meta.many_to_many if f.name in m2m_names]
    return fields


def diff_records(old, new):
    changes = []
    for field in tracked_fields(new):
        old_value = display_value(old, field)
        new_value = display_value(new, field)
        if old_value != new_value:
            changes.append({"label": field.verbose_name, "seen": old_value, "current": new_value})
    return changes


def history_entries(*sources, limit=30):
    """The latest history entries, newest first, each with its field changes.

    `sources` are objects with a history, or (label, historical queryset) pairs, so that a page
    can show its record's history together with its children's (approvals, contacts…).
    """
    entries = []
    for source in sources:
        label, queryset = source if isinstance(source, tuple) else ("", source.history.all())
        records = list(queryset.select_related("history_user").order_by("-history_date", "-history_id")[:limit])
        previous_by_object = {}
        # Walk oldest first so each record is diffed against the one before it, for the same object.
        for record in reversed(records):
            object_id = record.id
            previous = previous_by_object.get(object_id)
            if previous is None and record.history_type != "+":
                previous = record.prev_record
            changes = []
            if previous is not None and record.history_type == "~":
                changes = [
                    {"label": c["label"], "old": c["seen"], "new": c["current"]} for c in diff_records(previous, record)
                ]
            previous_by_object[object_id] = record
            entries.append(
                {
                    "date": record.history_date,
                    "user": record.history_user,
                    "kind": TYPE_LABELS.get(record.history_type, record.history_type),
                    "subject": f"{label} « {record.instance} »" if label else "",
                    "changes": changes,
                }
            )
    entries.sort(key=lambda e: e["date"], reverse=True)
    return entries[:limit]
