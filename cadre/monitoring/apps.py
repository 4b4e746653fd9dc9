from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "cadre.monitoring"
    label = "monitoring"
    verbose_name = "Prévention"
