"""Shared model pieces: history recording and optimistic concurrency."""

import uuid

from django.db import models, transaction
from django.db.models import F
from simple_history.models import HistoricalRecords


class TrackedHistory(HistoricalRecords):
    """HistoricalRecords that the model can reach, to write one entry per form save."""

    def contribute_to_class(self, cls, name):
        super().contribute_to_class(cls, name)
        cls._history_recorder = self


class ConcurrentEditError(Exception):
    """Raised when a record changed after the version the user read."""

    def __init__(self, changes):
        super().__init__("Cette fiche a été modifiée entre-temps.")
        self.changes = changes


class VersionedModel(models.Model):
    """A business record with a public UUID, a version counter and a history.

    Saving through `save_tracked` refuses to overwrite a change made after the version
    the editor read, and writes exactly one history entry (fields and relations together).
    """

    uuid = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    version = models.PositiveIntegerField("version", default=1, editable=False)
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    class Meta:
        abstract = True

    def save_tracked(self, *, expected_version=None, save_relations=None, user=None):
        """Save this record (and `save_relations()`, e.g. a form's save_m2m) atomically.

        With `expected_version`, the save only happens if the stored version still is that one;
        otherwise ConcurrentEditError lists what changed meanwhile.
        """
        created = self._state.adding
        if user is not None:
            self._history_user = user
        with transaction.atomic():
            if not created and expected_version is not None:
                bumped = (
                    type(self)
                    ._default_manager.filter(pk=self.pk, version=expected_version)
                    .update(version=F("version") + 1)
                )
                if not bumped:
                    raise ConcurrentEditError(self.changes_since(expected_version))
                self.version = expected_version + 1
            elif not created:
                self.version = F("version") + 1
            self.skip_history_when_saving = True
            try:
                self.save()
                if save_relations:
                    save_relations()
            finally:
                del self.skip_history_when_saving
            if not created:
                self.refresh_from_db(fields=["version"])
            self._history_recorder.create_historical_record(self, "+" if created else "~")
        return self

    def changes_since(self, version):
        """What changed after `version`: [{label, seen, current, by, at}]."""
        from cadre.core.history import diff_records

        records = list(
            self.history.filter(version__gte=version).select_related("history_user").order_by("history_date")
        )
        seen = next((r for r in records if r.version == version), None)
        if seen is None or len(records) < 2:
            return []
        latest = records[-1]
        changes = diff_records(seen, latest)
        for change in changes:
            change["by"] = latest.history_user
            change["at"] = latest.history_date
        return changes


class TableStamp(models.Model):
    """A value that changes whenever a row of `name` is written (see cadre.core.stamps): database triggers
    write it, in the writing transaction, so that a cached result keyed by it is never older than its data."""

    name = models.CharField("table", max_length=63, primary_key=True)
    version = models.BigIntegerField("version")

    class Meta:
        verbose_name = "état d'une table"
        verbose_name_plural = "états des tables"
