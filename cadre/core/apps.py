from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "cadre.core"
    label = "core"
    verbose_name = "Socle"

    def ready(self):
        from cadre.core.stamps import install_triggers

        # Once per migrate (and per test database flush), after every app's tables exist.
        post_migrate.connect(install_triggers, sender=self, dispatch_uid="cadre.core.stamps")
