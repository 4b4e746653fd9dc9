from django.apps import AppConfig


class StructuresConfig(AppConfig):
    name = "cadre.structures"
    label = "structures"
    verbose_name = "Structures"
