"""Load the official geography shipped in cadre/territories/data (idempotent)."""

import csv
import gzip
import hashlib
import time
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from cadre.territories.models import Commune, Department, Epci, PriorityArea, Region

DATA = Path(__file__).resolve().parents[2] / "data"
FILES = ["regions", "departements", "epci", "communes", "qpv2024"]


def read(name):
    with gzip.open(DATA / f"{name}.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def fingerprint():
    digest = hashlib.sha256()
    for name in FILES:
        digest.update((DATA / f"{name}.csv.gz").read_bytes())
    return digest.hexdigest()


def upsert(model, objects, fields):
    model.objects.bulk_create(
        objects,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=[model._meta.pk.name],
        update_fields=fields,
    )


def number(value, kind=int):
    return kind(value) if value not in ("", None) else None


class Command(BaseCommand):
    help = "Charge ou met à jour régions, départements, EPCI, communes et QPV depuis les données officielles livrées."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="recharger même si les données n'ont pas changé")
        parser.add_argument(
            "--departments",
            nargs="+",
            metavar="CODE",
            help="ne charger que les communes et QPV de ces départements (jeux d'essai, tests)",
        )

    def handle(self, *args, force=False, departments=None, **options):
        started = time.monotonic()
        digest = fingerprint()
        expected = {"regions": 26, "communes": 35014, "qpv": 1584}
        if departments:
            with transaction.atomic():
                self.load(set(departments))
        elif (
            not force
            and Region.objects.count() == expected["regions"]
            and Commune.objects.count() == expected["communes"]
            and PriorityArea.objects.count() == expected["qpv"]
        ):
            self.stdout.write("Géographie déjà chargée (utilisez --force pour recharger).")
            return
        else:
            with transaction.atomic():
                self.load()
        counts = (
            f"{Region.objects.count()} régions, {Department.objects.count()} départements, "
            f"{Epci.objects.count()} EPCI, {Commune.objects.count()} communes, "
            f"{PriorityArea.objects.count()} QPV"
        )
        self.stdout.write(
            self.style.SUCCESS(f"Géographie chargée : {counts} en {time.monotonic() - started:.1f} s ({digest[:12]}).")
        )

    def load(self, departments=None):
        def wanted(row):
            return departments is None or row["departement"] in departments

        upsert(Region, [Region(code=r["code"], name=r["nom"]) for r in read("regions")], ["name"])
        upsert(
            Department,
            [Department(code=r["code"], name=r["nom"], region_id=r["region"]) for r in read("departements")],
            ["name", "region"],
        )
        upsert(Epci, [Epci(siren=r["code"], name=r["nom"], kind=r["type"]) for r in read("epci")], ["name", "kind"])
        communes = [
            Commune(
                code=r["code"],
                name=r["nom"],
                search_name=Commune.normalise(r["nom"]),
                kind=r["type"],
                department_id=r["departement"],
                epci_id=r["epci"] or None,
                parent_id=r["commune_parente"] or None,
                population=number(r["population"]),
                postal_codes=" ".join(r["codes_postaux"].split("|")),
                latitude=number(r["latitude"], float),
                longitude=number(r["longitude"], float),
            )
            for r in read("communes")
            if wanted(r)
        ]
        # Parents first, so that the arrondissements' foreign key always points at a row.
        communes.sort(key=lambda c: c.parent_id is not None)
        upsert(
            Commune,
            communes,
            [
                "name",
                "search_name",
                "kind",
                "department",
                "epci",
                "parent",
                "population",
                "postal_codes",
                "latitude",
                "longitude",
            ],
        )
        loaded = {c.code for c in communes}
        rows = [r for r in read("qpv2024") if wanted(r)]
        upsert(
            PriorityArea,
            [PriorityArea(code=r["code"], name=r["nom"], department_id=r["departement"]) for r in rows],
            ["name", "department"],
        )
        through = PriorityArea.communes.through
        through.objects.filter(priorityarea_id__in=[r["code"] for r in rows]).delete()
        through.objects.bulk_create(
            [
                through(priorityarea_id=r["code"], commune_id=code)
                for r in rows
                for code in r["communes_cog2026"].split("|")
                if code and code in loaded
            ],
            batch_size=2000,
        )
