from django.apps import AppConfig


class StructuresConfig(AppConfig):
    name = "cadre.structures"
    label = "structures"
    verbose_name = "Structures"

    def ready(self):
        from cadre.accounts.privacy import register_source
        from cadre.core.work import register
        from cadre.structures.privacy import contacts_of_user
        from cadre.structures.work import READS, work

        register_source("fiches de contact à votre adresse", contacts_of_user)
        register(work, READS)
