from django.apps import AppConfig


class FundingConfig(AppConfig):
    name = "cadre.funding"
    label = "funding"
    verbose_name = "Financements"
