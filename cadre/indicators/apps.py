from django.apps import AppConfig


class IndicatorsConfig(AppConfig):
    name = "cadre.indicators"
    verbose_name = "Indicateurs"

    def ready(self):
        from cadre.indicators import receivers  # noqa: F401 — connects to the observatory's signal
