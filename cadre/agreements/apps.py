from django.apps import AppConfig


class AgreementsConfig(AppConfig):
    name = "cadre.agreements"
    label = "agreements"
    verbose_name = "Conventions"
