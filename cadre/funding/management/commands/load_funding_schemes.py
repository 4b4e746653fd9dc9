from django.core.management.base import BaseCommand

from cadre.funding.schemes import load_default_schemes


class Command(BaseCommand):
    help = "Crée les dispositifs de financement de base (prestations de service de la Caf et leurs taux par année)."

    def handle(self, *args, **options):
        schemes, years = load_default_schemes()
        self.stdout.write(f"Dispositifs de financement : {schemes} créés, {years} taux annuels ajoutés.")
