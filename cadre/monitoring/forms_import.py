"""The upload form of the accounts import: the exchanges' upload form, checked by statement_import.py."""

from django import forms

from cadre.exchanges.forms import ImportUploadForm, UploadInput
from cadre.exchanges.observatory import MAX_FILE_SIZE
from cadre.monitoring import statement_file
from cadre.monitoring.actions import record_statement_import, upload_statement_import


class StatementImportForm(ImportUploadForm):
    file = forms.FileField(
        label="Fichier des comptes annuels",
        help_text=(
            "Classeur Excel (.xlsx) ou fichier CSV (séparateur point-virgule, virgule ou tabulation, encodage UTF-8 "
            f"ou Windows-1252), {MAX_FILE_SIZE // (1024 * 1024)} Mo au plus."
        ),
        widget=UploadInput(),
    )

    def check(self, name, content):
        return statement_file.check_file(self.user, name, content)

    def upload(self, name, content):
        return upload_statement_import(self.user, name, content)

    def record(self, name, content, report):
        return record_statement_import(self.user, name, content, report)
