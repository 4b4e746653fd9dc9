from django.apps import AppConfig


class ObservatoryConfig(AppConfig):
    name = "cadre.observatory"
    label = "observatory"
    verbose_name = "Observatoire"
