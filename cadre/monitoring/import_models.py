"""A file of annual accounts being imported (see statement_import.py): the exchanges' import file, with what
its dry run decided to write."""

from django.db import models

from cadre.exchanges.models import ImportFile


class StatementImportQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Administrators see every import; others their own (the report names the structures of the file)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self.all()
        return self.filter(uploaded_by=user)


class StatementImport(ImportFile):
    """A file of annual accounts, one row per structure and fiscal year: checked when uploaded (dry run),
    applied later on request."""

    row_count = models.PositiveIntegerField("lignes", default=0)
    created_count = models.PositiveIntegerField("créations", default=0)
    updated_count = models.PositiveIntegerField("mises à jour", default=0)
    # What the dry run decided to write, with the versions it read (compressed JSON): applying re-checks those
    # versions, the states and the rights without reading the file again. Emptied once applied.
    pending = models.BinaryField("écritures prévues", null=True, editable=False)

    objects = StatementImportQuerySet.as_manager()

    class Meta(ImportFile.Meta):
        verbose_name = "import de comptes annuels"
        verbose_name_plural = "imports de comptes annuels"

    @property
    def changed_count(self):
        return self.created_count + self.updated_count
