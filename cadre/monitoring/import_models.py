"""A file of annual accounts being imported (read and checked by statement_file.py): the exchanges' records import."""

from cadre.exchanges.models import RecordsImport


class StatementImport(RecordsImport):
    """A file of annual accounts, one row per structure and fiscal year."""

    class Meta(RecordsImport.Meta):
        verbose_name = "import de comptes annuels"
        verbose_name_plural = "imports de comptes annuels"
