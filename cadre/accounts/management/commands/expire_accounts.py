"""The daily round of personal-data retention: to run once a day (cron, systemd timer…)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from cadre.accounts.privacy import expire_accounts
from cadre.core.french import plural


class Command(BaseCommand):
    help = (
        "À lancer chaque jour : prévient par courriel les comptes sans connexion depuis "
        "CADRE_INACTIVE_ACCOUNT_MONTHS - 1 mois, désactive ceux qui, prévenus depuis 30 jours, ne se sont toujours "
        "pas connectés, et efface le journal des connexions plus ancien que CADRE_ACCOUNT_EVENTS_RETENTION_DAYS."
    )

    def handle(self, **options):
        warned, deactivated, deleted = expire_accounts()
        months = settings.CADRE_INACTIVE_ACCOUNT_MONTHS
        self.stdout.write(
            f"{plural(warned, 'compte prévenu,comptes prévenus')}, "
            f"{plural(deactivated, 'compte désactivé,comptes désactivés')} après {months} mois sans connexion, "
            f"{plural(deleted, 'événement du journal effacé,événements du journal effacés')}."
        )
