"""Readable history: who changed which field, from what to what."""

from django.db import models
from django.db.models import prefetch_related_objects

HIDDEN_FIELDS = {"id", "uuid", "version", "created_at", "updated_at"}
TYPE_LABELS = {"+": "Création", "~": "Modification", "-": "Suppression"}


def m2m_rows_accessor(record_model, field):
    """Name of the historical record's rows for a relation set (simple-history's m2m history table)."""
    m2m_model = record_model.instance_type._history_recorder.m2m_models[field]
    return m2m_model._meta.get_field("history").remote_field.get_accessor_name()


def m2m_rows(record, field):
    return getattr(record, m2m_rows_accessor(type(record), field)).all()


def raw_value(record, field):
    """What is compared: the stored value, or for a relation set the ids it holds."""
    if field.many_to_many:
        target = field.m2m_reverse_field_name()
        return frozenset(getattr(row, f"{target}_id") for row in m2m_rows(record, field))
    return getattr(record, field.attname)


def display_value(record, field, raw, names=None):
    """A field's value as a person reads it (choice labels, names of related objects)."""
    if field.many_to_many:
        target = field.m2m_reverse_field_name()
        names = (str(getattr(row, target)) for row in m2m_rows(record, field))
        return ", ".join(sorted(names)) or "—"
    if raw in (None, "", []):
        return "—"
    if field.choices:
        return dict(field.flatchoices).get(raw, raw)
    if isinstance(field, models.ForeignKey):
        # One look-up per related object, however many records mention it.
        names = {} if names is None else names
        key = (field.related_model, raw)
        if key not in names:
            target = field.related_model._default_manager.filter(pk=raw).first()
            names[key] = str(target) if target is not None else f"{raw} (supprimé)"
        return names[key]
    if isinstance(field, models.BooleanField):
        return "oui" if raw else "non"
    if isinstance(field, models.JSONField) and isinstance(raw, list):
        return " ; ".join(str(v) for v in raw) or "—"
    if hasattr(raw, "strftime"):
        return raw.strftime("%d/%m/%Y %H:%M" if hasattr(raw, "hour") else "%d/%m/%Y")
    return str(raw)


def tracked_fields(record):
    model = record.instance_type
    fields = [f for f in model._meta.concrete_fields if f.name not in HIDDEN_FIELDS]
    m2m_names = {f.name for f in getattr(record, "_history_m2m_fields", [])}
    fields += [f for f in model._meta.many_to_many if f.name in m2m_names]
    return fields


def diff_records(old, new, names=None):
    """Changed fields between two history records; related names are looked up only when changed."""
    names = {} if names is None else names
    changes = []
    for field in tracked_fields(new):
        old_raw, new_raw = raw_value(old, field), raw_value(new, field)
        if old_raw != new_raw:
            changes.append(
                {
                    "label": field.verbose_name,
                    "seen": display_value(old, field, old_raw, names),
                    "current": display_value(new, field, new_raw, names),
                }
            )
    return changes


def history_entries(*sources, limit=30):
    """The latest history entries, newest first, each with its field changes.

    `sources` are objects with a history, or (label, historical queryset) pairs, so that a page
    can show its record's history together with its children's (approvals, contacts…).
    """
    entries, names = [], {}
    for source in sources:
        label, queryset = source if isinstance(source, tuple) else ("", source.history.all())
        records = list(queryset.select_related("history_user").order_by("-history_date", "-history_id")[:limit])
        # Relation sets are only read to diff modifications: fetch them for all records at once, if any.
        m2m = [
            f"{m2m_rows_accessor(queryset.model, f)}__{f.m2m_reverse_field_name()}"
            for f in getattr(queryset.model, "_history_m2m_fields", [])
        ]
        if m2m and any(r.history_type == "~" for r in records):
            prefetch_related_objects(records, *m2m)
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
                    {"label": c["label"], "old": c["seen"], "new": c["current"]}
                    for c in diff_records(previous, record, names)
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
