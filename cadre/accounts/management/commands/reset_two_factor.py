"""Reset an account's two-factor authentication (lost phone and recovery codes), e.g. the last administrator's."""

from django.core.management.base import BaseCommand, CommandError

from cadre.accounts import two_factor
from cadre.accounts.models import User


class Command(BaseCommand):
    help = (
        "Supprime l'application d'authentification et les codes de secours d'un compte ; la personne en choisira "
        "une nouvelle à sa prochaine connexion. Inscrit dans l'historique du compte."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, email, **options):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"Aucun compte pour « {email} ».")
        two_factor.reset_two_factor(user, actor=None)
        self.stdout.write(f"Double authentification de {user.email} réinitialisée.")
