"""PDF copies of pages, rendered by WeasyPrint with the State font shipped by django-dsfr."""

from pathlib import Path

from django.contrib.staticfiles import finders
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
    return HTML(string=html, base_url=request.build_absolute_uri("/") if request else None).write_pdf()


def pdf_response(filename, template, context, request):
    try:
        content = render_pdf(template, context, request)
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
