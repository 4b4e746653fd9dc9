from django.apps import AppConfig


class FundingConfig(AppConfig):
    name = "cadre.funding"
    label = "funding"
    verbose_name = "Financements"

    def ready(self):
        from cadre.core.work import register, register_upcoming
        from cadre.funding.work import READS, UPCOMING_READS, upcoming, work

        register(work, READS)
        register_upcoming(upcoming, UPCOMING_READS)
