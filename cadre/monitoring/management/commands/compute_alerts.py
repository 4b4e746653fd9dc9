import time

from django.core.management.base import BaseCommand

from cadre.monitoring.alerts import compute_statuses


class Command(BaseCommand):
    help = (
        "Recalcule les ratios et l'état (vert, vigilance, alerte) de chaque structure pour chaque exercice, avec "
        "les faits qui l'ont déclenché, puis les quartiles départementaux des ratios."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        count = compute_statuses()
        self.stdout.write(f"États de santé financière : {count} calculés en {time.monotonic() - started:.1f} s.")
