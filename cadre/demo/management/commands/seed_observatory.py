"""Yearly observatory campaigns for the structures in the database, for benchmarks:
`manage.py seed_observatory [--campaigns 10] [--seed N] [--replace]`."""

import random
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from cadre.demo import observatory as demo_observatory
from cadre.demo import seed as demo_seed
from cadre.observatory.models import Campaign
from cadre.structures.models import Structure


def grouped(number):
    return f"{number:,}".replace(",", "\u202f")


class Command(BaseCommand):
    help = (
        "Crée les campagnes de l'observatoire des dernières années (la dernière ouverte, les autres closes et "
        "validées) pour les structures de la base, avec des réponses plausibles : à l'échelle nationale "
        "(seed_demo --scale national), 10 campagnes font environ 4 millions de réponses."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaigns", type=int, default=10, help="nombre d'années observées (10 par défaut)")
        parser.add_argument("--seed", type=int, default=demo_seed.DEFAULT_SEED, help="graine du générateur")
        parser.add_argument(
            "--observed-only",
            action="store_true",
            help="seulement les structures observées chaque année d'après leurs agréments (comme à l'ouverture "
            "d'une campagne) ; sans cette option, chaque structure répond à chaque campagne, car l'historique des "
            "agréments de la démonstration ne remonte que de quelques années",
        )
        parser.add_argument(
            "--replace", action="store_true", help="supprimer d'abord toutes les campagnes existantes et leurs saisies"
        )

    def handle(self, *args, campaigns, seed, replace, observed_only, **options):
        if campaigns < 1:
            raise CommandError("--campaigns : au moins une campagne.")
        if not Structure.objects.exists():
            raise CommandError("Aucune structure : lancez d'abord « manage.py seed_demo » (--scale national).")
        today = timezone.localdate()
        years = list(range(today.year - campaigns, today.year))
        started = time.monotonic()
        with transaction.atomic():
            if replace:
                demo_observatory.delete_campaigns()
            elif Campaign.objects.filter(year__in=years).exists():
                raise CommandError(
                    f"Des campagnes existent déjà pour les années {years[0]} à {years[-1]} : ajoutez --replace "
                    "pour les remplacer."
                )
            deleted = time.monotonic() - started
            builder = demo_observatory.ObservatoryBuilder(
                random.Random(seed), today, years=campaigns, every_structure=not observed_only
            )
            summary = builder.build()
        analyzed = time.monotonic()
        demo_observatory.analyze()
        analyzed = time.monotonic() - analyzed
        if options.get("verbosity", 1) < 1:
            return
        states = summary["states"][years[-1]]
        self.stdout.write(
            self.style.SUCCESS(
                f"Observatoire créé : {campaigns} campagnes ({years[0]} à {years[-1]}), "
                f"{grouped(summary['submissions'])} questionnaires, {grouped(summary['answers'])} réponses, "
                f"{grouped(summary['events'])} étapes, {grouped(summary['anomalies'])} points à vérifier en "
                f"{summary['seconds']:.1f} s (+ {deleted:.1f} s de suppression, {analyzed:.1f} s d'ANALYZE ; "
                f"graine {seed})."
            )
        )
        self.stdout.write(f"  campagne {years[-1]} ouverte : {demo_observatory.describe_states(states)}")
