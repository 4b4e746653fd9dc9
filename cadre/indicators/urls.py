from django.urls import path

from . import views

app_name = "indicators"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("structures/<uuid:uuid>/", views.structure_figures, name="structure"),
    path("rapport/", views.report, name="report"),
    path("rapport.xlsx", views.report_xlsx, name="report_xlsx"),
    path("rapport/pdf/", views.report_pdf_start, name="report_pdf_start"),
    path("rapports/<uuid:uuid>/", views.report_export, name="report_export"),
    path("rapports/<uuid:uuid>/rapport.pdf", views.report_export_download, name="report_export_download"),
]
