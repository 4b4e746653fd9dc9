from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "cadre.partners"
    label = "partners"
    verbose_name = "Partenaires"
