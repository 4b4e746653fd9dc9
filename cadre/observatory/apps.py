from django.apps import AppConfig


class ObservatoryConfig(AppConfig):
    name = "cadre.observatory"
    label = "observatory"
    verbose_name = "Observatoire"

    def ready(self):
        from cadre.core.work import register
        from cadre.observatory import dashboard  # noqa: F401 — its cache's tables get their triggers at migrate
        from cadre.observatory.work import READS, work

        register(work, READS)
