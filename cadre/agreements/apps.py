from django.apps import AppConfig


class AgreementsConfig(AppConfig):
    name = "cadre.agreements"
    label = "agreements"
    verbose_name = "Conventions"

    def ready(self):
        from cadre.agreements.work import READS, work
        from cadre.core.work import register

        register(work, READS)
