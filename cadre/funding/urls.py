from django.urls import path

from . import scdl_views, views

app_name = "funding"

urlpatterns = [
    path("structures/<uuid:uuid>/", views.structure_funding, name="structure"),
    path("structures/<uuid:uuid>/nouvelle-ligne/", views.line_create, name="line_create"),
    path("structures/<uuid:uuid>/pieces/", views.structure_documents, name="documents"),
    path("pieces/en-retard/", views.overdue_documents, name="overdue"),
    path("pieces/<uuid:uuid>/", views.document_download, name="document"),
    path("pieces/<uuid:uuid>/examen/", views.document_review, name="document_review"),
    path("partenaires/<uuid:uuid>/", views.partner_funding, name="partner"),
    path("partenaires/<uuid:uuid>/export.xlsx", views.partner_export, name="partner_export"),
    path("partenaires/<uuid:uuid>/scdl/", views.partner_scdl, name="scdl"),
    path("imports-scdl/<uuid:uuid>/", scdl_views.scdl_import, name="scdl_import"),
    path("conventions/<uuid:uuid>/", views.agreement_funding, name="agreement"),
    path("conventions/<uuid:uuid>/fiche.pdf", views.agreement_pdf, name="agreement_pdf"),
    path("lignes/<uuid:uuid>/", views.line_detail, name="line"),
    path("lignes/<uuid:uuid>/modifier/", views.line_edit, name="line_edit"),
    path("calendrier/", views.calendar_page, name="calendar"),
    path("calendrier/adresse/", views.calendar_token, name="calendar_token"),
    path("calendrier/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("enveloppes/", views.envelope_list, name="envelopes"),
    path("enveloppes/nouvelle/", views.envelope_create, name="envelope_create"),
    path("enveloppes/<uuid:uuid>/", views.envelope_detail, name="envelope"),
    path("dispositifs/", views.scheme_list, name="schemes"),
    path("dispositifs/<uuid:uuid>/", views.scheme_detail, name="scheme"),
    path("dispositifs/<uuid:uuid>/baremes/", views.scheme_year, name="scheme_year"),
    path("dispositifs/<uuid:uuid>/pieces/", views.scheme_document, name="scheme_document"),
    path("dispositifs/<uuid:uuid>/echeancier/", views.scheme_step, name="scheme_step"),
]
