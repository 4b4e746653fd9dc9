from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "cadre.monitoring"
    label = "monitoring"
    verbose_name = "Prévention"

    def ready(self):
        from cadre.monitoring import receivers  # noqa: F401 — statements, payments, documents recompute alerts
        from cadre.monitoring.overview import links
        from cadre.structures.overview import register

        register(links)
