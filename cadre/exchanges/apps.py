from django.apps import AppConfig


class ExchangesConfig(AppConfig):
    name = "cadre.exchanges"
    label = "exchanges"
    verbose_name = "Échanges de tableurs"
