from django.core.management.base import BaseCommand, CommandError

from cadre.accounts.models import ApiToken, User


class Command(BaseCommand):
    help = "Crée un jeton d'API pour l'utilisateur donné et l'affiche (une seule fois)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="jeton créé en ligne de commande")

    def handle(self, email, name, **options):
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise CommandError(f"Aucun utilisateur actif avec l'adresse {email}.")
        _, secret = ApiToken.issue(user, name)
        self.stdout.write(secret)
