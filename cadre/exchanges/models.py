"""Spreadsheet imports, kept with their file: what was checked is exactly what is applied."""

import hashlib
import json
import uuid
import zlib

from django.conf import settings
from django.db import models

from cadre.observatory.models import Campaign


class ImportStatus(models.TextChoices):
    CHECKING = "checking", "vérification en cours"
    DRY_RUN_FAILED = "dry_run_failed", "à corriger"
    READY = "ready", "prêt à appliquer"
    APPLYING = "applying", "application en cours"
    APPLIED = "applied", "appliqué"


# States in which a background task works on the import: its page follows the progress.
WORKING_STATUSES = {ImportStatus.CHECKING, ImportStatus.APPLYING}


class AnswerImportQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Administrators see every import; others their own (a file may hold other structures' answers)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self.all()
        return self.filter(uploaded_by=user, campaign__in=Campaign.objects.visible_to(user))


class ImportFile(models.Model):
    """What every import keeps: the file, who sent it, the dry run's report and where applying stands."""

    uuid = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    file_name = models.CharField("nom du fichier", max_length=255)
    content = models.BinaryField("contenu du fichier")
    sha256 = models.CharField("empreinte SHA-256", max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="déposé par", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField("déposé le", auto_now_add=True)
    status = models.CharField("état", max_length=20, choices=ImportStatus.choices)
    report = models.JSONField("rapport de vérification", default=dict, blank=True)
    checked_at = models.DateTimeField("vérifié le", null=True, blank=True)
    applied_at = models.DateTimeField("appliqué le", null=True, blank=True)
    error_count = models.PositiveIntegerField("erreurs", default=0)
    progress = models.PositiveSmallIntegerField("avancement (%)", default=0)
    message = models.TextField("message", blank=True, help_text="Pourquoi la dernière opération n'a pas abouti.")

    class Meta:
        abstract = True
        ordering = ["-uploaded_at", "-pk"]

    def __str__(self):
        return f"{self.file_name} ({self.get_status_display()})"

    @classmethod
    def of_file(cls, user, name, content, **fields):
        """A new (unsaved) import of the uploaded file `content` named `name`."""
        return cls(
            file_name=name[:255],
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            uploaded_by=user,
            **fields,
        )

    @property
    def is_ready(self):
        return self.status == ImportStatus.READY

    @property
    def is_applied(self):
        return self.status == ImportStatus.APPLIED

    @property
    def is_working(self):
        return self.status in WORKING_STATUSES

    @staticmethod
    def pack(data):
        return zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 1)

    def unpacked_pending(self):
        return None if self.pending is None else json.loads(zlib.decompress(bytes(self.pending)))


class AnswerImport(ImportFile):
    """A file of answers to a campaign: checked when uploaded (dry run), applied later on request."""

    campaign = models.ForeignKey(
        Campaign, verbose_name="campagne", on_delete=models.CASCADE, related_name="answer_imports"
    )
    structure_count = models.PositiveIntegerField("structures", default=0)
    answer_count = models.PositiveIntegerField("réponses lues", default=0)
    changed_count = models.PositiveIntegerField("réponses modifiées", default=0)
    # What the dry run decided to write (compressed JSON), so that applying re-checks the states,
    # rights and answer versions without reading the file again. Emptied once applied.
    pending = models.BinaryField("réponses à écrire", null=True, editable=False)

    objects = AnswerImportQuerySet.as_manager()

    class Meta(ImportFile.Meta):
        verbose_name = "import de réponses"
        verbose_name_plural = "imports de réponses"


class RegistryTarget(models.TextChoices):
    STRUCTURES = "structures", "structures, agréments et contacts"
    PARTNERS = "partners", "partenaires et leur territoire"


class OwnImportQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Administrators see every import; others their own (the report names what they may change)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self.all()
        return self.filter(uploaded_by=user)


class RecordsImport(ImportFile):
    """A file of records to create or update (the registry, annual accounts…): checked when uploaded (dry run),
    applied later on request by who uploaded it."""

    row_count = models.PositiveIntegerField("lignes", default=0)
    created_count = models.PositiveIntegerField("créations", default=0)
    updated_count = models.PositiveIntegerField("mises à jour", default=0)
    # What the dry run decided to write, with the versions it read (compressed JSON): applying re-checks those
    # versions, the states and the rights without reading the file again. Emptied once applied.
    pending = models.BinaryField("écritures prévues", null=True, editable=False)

    objects = OwnImportQuerySet.as_manager()

    class Meta(ImportFile.Meta):
        abstract = True

    @property
    def changed_count(self):
        return self.created_count + self.updated_count


class RegistryImport(RecordsImport):
    """A file of structures or partners."""

    target = models.CharField("contenu", max_length=20, choices=RegistryTarget.choices)

    class Meta(RecordsImport.Meta):
        verbose_name = "import du répertoire"
        verbose_name_plural = "imports du répertoire"
