"""PDF copies of pages, rendered by WeasyPrint with the State font shipped by django-dsfr."""

import hashlib
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.cache import caches
from django.http import HttpResponse
from django.template.loader import render_to_string


class PdfUnavailable(RuntimeError):
    """WeasyPrint's system libraries (Pango) are missing on this machine."""


def _fonts_url():
    found = finders.find("dsfr/dist/fonts/Marianne-Regular.woff2")
    return Path(found).parent.as_uri() + "/" if found else ""


def render_pdf(template, context, request=None):
    """The PDF bytes of `template` (a standalone HTML page) rendered with `context`."""
    try:
        # Imported here: a machine without Pango still serves every other page.
        from weasyprint import HTML
    except OSError as error:
        raise PdfUnavailable(str(error)) from error
    html = render_to_string(template, {**context, "fonts_url": _fonts_url()}, request)
    base_url = request.build_absolute_uri("/") if request else None
    # Laying out the PDF costs a hundred times rendering its HTML: the PDF is kept under a digest of that
    # HTML, so any change to what it shows (data, template, reader, date) makes a new one.
    key = "pdf:" + hashlib.sha256(f"{base_url}\n{html}".encode()).hexdigest()
    documents = caches["documents"]
    content = documents.get(key)
    if content is None:
        content = HTML(string=html, base_url=base_url).write_pdf()
        documents.set(key, content)
    return content


def pdf_response(filename, template, context, request):
    return pdf_file_response(filename, lambda: render_pdf(template, context, request))


def pdf_file_response(filename, make):
    """The PDF `make()` gives (a page's `render_pdf`, or a copy kept by `cached_file`), shown inline."""
    try:
        content = make()
    except PdfUnavailable:
        return HttpResponse(
            "La copie PDF n'est pas disponible sur ce serveur (bibliothèques Pango absentes) : utilisez la version "
            "imprimable et « Enregistrer au format PDF » de votre navigateur.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
    return response
