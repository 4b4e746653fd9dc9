from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from cadre.core.forms import CadreForm
from cadre.exchanges import registry
from cadre.exchanges.actions import (
    record_import,
    record_registry_import,
    upload_import,
    upload_registry_import,
)
from cadre.exchanges.observatory import MAX_FILE_SIZE, FileRefused, check_file


class UploadInput(forms.FileInput):
    group_class = "fr-upload-group"

    def __init__(self):
        super().__init__(attrs={"class": "fr-upload", "accept": ".xlsx,.csv,.txt"})


class ImportUploadForm(CadreForm):
    """Upload = dry run: a small file is read and checked here, then stored with its report; a larger one is
    stored and checked by the worker (its page shows the progress). Subclasses say how their file is checked
    (`check`), stored for the worker (`upload`) or stored with its report (`record`)."""

    too_big_advice = ""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.report = self.content = None

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_SIZE:
            size = f"{upload.size / (1024 * 1024):.1f}".replace(".", ",")
            raise ValidationError(
                f"Ce fichier pèse {size} Mo : {MAX_FILE_SIZE // (1024 * 1024)} Mo au plus.{self.too_big_advice}"
            )
        content = upload.read()
        if len(content) <= settings.CADRE_IMPORT_INLINE_MAX_BYTES:
            try:
                self.report = self.check(upload.name, content)
            except FileRefused as refused:
                raise ValidationError(str(refused)) from None
        self.content = content
        return upload

    def save(self):
        name = self.cleaned_data["file"].name
        if self.report is None:
            return self.upload(name, self.content)
        return self.record(name, self.content, self.report)


class AnswerImportForm(ImportUploadForm):
    file = forms.FileField(
        label="Fichier des réponses",
        help_text=(
            "Classeur Excel (.xlsx) ou fichier CSV (séparateur point-virgule ou virgule, encodage UTF-8 ou "
            f"Windows-1252), {MAX_FILE_SIZE // (1024 * 1024)} Mo au plus."
        ),
        widget=UploadInput(),
    )
    too_big_advice = " Découpez-le (par département, par exemple)."

    def __init__(self, *args, campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign

    def check(self, name, content):
        return check_file(self.campaign, self.user, name, content)

    def upload(self, name, content):
        return upload_import(self.campaign, self.user, name, content)

    def record(self, name, content, report):
        return record_import(self.campaign, self.user, name, content, report)


class RegistryImportForm(ImportUploadForm):
    file = forms.FileField(
        label="Fichier à importer",
        help_text=(
            "Classeur Excel (.xlsx) ou fichier CSV (séparateur point-virgule, virgule ou tabulation, encodage UTF-8 "
            f"ou Windows-1252), {MAX_FILE_SIZE // (1024 * 1024)} Mo au plus."
        ),
        widget=UploadInput(),
    )

    def __init__(self, *args, target, **kwargs):
        super().__init__(*args, **kwargs)
        self.target = target

    def check(self, name, content):
        return registry.check_file(self.target, self.user, name, content)

    def upload(self, name, content):
        return upload_registry_import(self.target, self.user, name, content)

    def record(self, name, content, report):
        return record_registry_import(self.target, self.user, name, content, report)
