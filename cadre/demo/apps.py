from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "cadre.demo"
    label = "demo"
    verbose_name = "Données de démonstration"
