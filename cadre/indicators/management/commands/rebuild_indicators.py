import time

from django.core.management.base import BaseCommand

from cadre.indicators.compute import rebuild


class Command(BaseCommand):
    help = "Recalcule toutes les valeurs des indicateurs courants, pour chaque territoire et chaque année."

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, action="append", help="une année seulement (répétable)")

    def handle(self, *args, year=None, **options):
        started = time.monotonic()
        counts = rebuild(years=year)
        total = sum(counts.values())
        self.stdout.write(
            f"Indicateurs recalculés : {total} valeurs pour {len(counts)} année{'s' if len(counts) > 1 else ''} "
            f"en {time.monotonic() - started:.1f} s."
        )
