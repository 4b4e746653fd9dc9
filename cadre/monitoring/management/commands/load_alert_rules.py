from django.core.management.base import BaseCommand

from cadre.monitoring.default_rules import load_default_rules


class Command(BaseCommand):
    help = (
        "Crée les règles d'alerte livrées (signaux de France Active, seuils usuels, signaux de Cadre) qui manquent ; "
        "les règles modifiées par un administrateur gardent leurs réglages, sauf avec --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Remet les règles livrées à leurs valeurs d'origine.")

    def handle(self, *args, reset=False, **options):
        created, restored = load_default_rules(reset=reset)
        self.stdout.write(f"Règles d'alerte : {created} créées, {restored} remises à leurs valeurs d'origine.")
