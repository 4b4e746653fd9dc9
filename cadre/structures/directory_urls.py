from django.urls import path

from . import directory_views

app_name = "directory"

urlpatterns = [
    path("", directory_views.directory_list, name="list"),
    path("<uuid:uuid>/", directory_views.directory_detail, name="detail"),
]
