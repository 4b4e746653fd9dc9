"""Checks on an uploaded document: an allowed type (by its name and by its first bytes, which cannot
lie as easily), a size limit, a clean name. Refusals are in French, for the field at fault."""

import hashlib
import re
import unicodedata
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.http import content_disposition_header

# Extension → (MIME type, the bytes such a file starts with).
ALLOWED = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "odt": ("application/vnd.oasis.opendocument.text", (b"PK\x03\x04",)),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", (b"PK\x03\x04",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
}
ALLOWED_LABEL = "PDF, ODT, ODS, DOCX, XLSX, PNG ou JPEG"


def max_bytes():
    return settings.CADRE_DOCUMENT_MAX_BYTES


def weight(size):
    """« 2,5 Mo », « 12 Ko »."""
    if size >= 1_048_576:
        return f"{size / 1_048_576:.1f} Mo".replace(".", ",").replace(",0 Mo", " Mo")
    return f"{max(1, round(size / 1024))} Ko"


def clean_name(name):
    """The file's own name (no folder), letters, digits, spaces, dots, dashes and underscores only."""
    base = PurePath(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base)
    base = re.sub(r"[^\w .()-]", "_", base).strip(" .")
    stem, dot, extension = base.rpartition(".")
    if len(base) > 150:
        base = f"{stem[: 150 - len(extension) - 1]}.{extension}" if dot else base[:150]
    return base


def check_upload(upload):
    """(clean name, MIME type, bytes, sha256) of an uploaded file, or ValidationError."""
    if upload is None:
        raise ValidationError("Choisissez le fichier à déposer.")
    name = clean_name(upload.name or "")
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if extension not in ALLOWED:
        raise ValidationError(f"Type de fichier refusé : déposez un fichier {ALLOWED_LABEL}.")
    if upload.size > max_bytes():
        raise ValidationError(f"Fichier trop lourd ({weight(upload.size)}) : au plus {weight(max_bytes())}.")
    if upload.size == 0:
        raise ValidationError("Le fichier est vide.")
    content = upload.read()
    mime, signatures = ALLOWED[extension]
    if not content.startswith(signatures):
        raise ValidationError(
            f"Ce fichier n'est pas un vrai fichier {extension.upper()} : son contenu ne correspond pas."
        )
    return name, mime, content, hashlib.sha256(content).hexdigest()


def stored_file_response(stored):
    """Download of a file kept in the database (its `content`, `content_type`, `file_name`): always as an
    attachment, never sniffed into something a browser would run."""
    response = HttpResponse(bytes(stored.content), content_type=stored.content_type)
    response["Content-Disposition"] = content_disposition_header(True, stored.file_name)
    response["X-Content-Type-Options"] = "nosniff"
    return response
