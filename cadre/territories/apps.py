from django.apps import AppConfig


class TerritoriesConfig(AppConfig):
    name = "cadre.territories"
    label = "territories"
    verbose_name = "Territoires"
