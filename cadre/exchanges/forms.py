from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from dsfr.forms import DsfrBaseForm

from cadre.exchanges import registry
from cadre.exchanges.actions import record_import, record_registry_import, upload_import, upload_registry_import
from cadre.exchanges.observatory import MAX_FILE_SIZE, FileRefused, check_file


class UploadInput(forms.FileInput):
    group_class = "fr-upload-group"

    def __init__(self):
        super().__init__(attrs={"class": "fr-upload", "accept": ".xlsx,.csv,.txt"})


class AnswerImportForm(DsfrBaseForm):
    """Upload = dry run: a small file is read and checked here, then stored with its report; a
    larger one is stored and checked by the worker (its page shows the progress)."""

    file = forms.FileField(
        label="Fichier des réponses",
        help_text=(
            "Classeur Excel (.xlsx) ou fichier CSV (séparateur point-virgule ou virgule, encodage UTF-8 ou "
            f"Windows-1252), {MAX_FILE_SIZE // (1024 * 1024)} Mo au plus."
        ),
        widget=UploadInput(),
    )

    def __init__(self, *args, campaign, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign, self.user = campaign, user
        self.report = self.content = None

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_SIZE:
            size = f"{upload.size / (1024 * 1024):.1f}".replace(".", ",")
            raise ValidationError(
                f"Ce fichier pèse {size} Mo : {MAX_FILE_SIZE // (1024 * 1024)} Mo au plus. Découpez-le (par "
                "département, par exemple)."
            )
        content = upload.read()
        if len(content) <= settings.CADRE_IMPORT_INLINE_MAX_BYTES:
            try:
                self.report = check_file(self.campaign, self.user, upload.name, content)
            except FileRefused as refused:
                raise ValidationError(str(refused)) from None
        self.content = content
        return upload

    def save(self):
        name = self.cleaned_data["file"].name
        if self.report is None:
            return upload_import(self.campaign, self.user, name, self.content)
        return record_import(self.campaign, self.user, name, self.content, self.report)


class RegistryImportForm(DsfrBaseForm):
    """Upload = dry run, as for answers: a small file is checked here, a larger one by the worker."""

    file = forms.FileField(
        label="Fichier à importer",
        help_text=(
            "Classeur Excel (.xlsx) ou fichier CSV (séparateur point-virgule, virgule ou tabulation, encodage UTF-8 "
            f"ou Windows-1252), {MAX_FILE_SIZE // (1024 * 1024)} Mo au plus."
        ),
        widget=UploadInput(),
    )

    def __init__(self, *args, target, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.target, self.user = target, user
        self.report = self.content = None

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_SIZE:
            size = f"{upload.size / (1024 * 1024):.1f}".replace(".", ",")
            raise ValidationError(f"Ce fichier pèse {size} Mo : {MAX_FILE_SIZE // (1024 * 1024)} Mo au plus.")
        content = upload.read()
        if len(content) <= settings.CADRE_IMPORT_INLINE_MAX_BYTES:
            try:
                self.report = registry.check_file(self.target, self.user, upload.name, content)
            except FileRefused as refused:
                raise ValidationError(str(refused)) from None
        self.content = content
        return upload

    def save(self):
        name = self.cleaned_data["file"].name
        if self.report is None:
            return upload_registry_import(self.target, self.user, name, self.content)
        return record_registry_import(self.target, self.user, name, self.content, self.report)
