import tomllib
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cadre.indicators.actions import define_indicator
from cadre.indicators.compute import rebuild

DEFAULT = Path(__file__).resolve().parents[2] / "definitions" / "default.toml"


class Command(BaseCommand):
    help = (
        "Charge les définitions d'indicateurs d'un fichier (par défaut, le jeu livré) ; une définition changée "
        "devient une nouvelle version."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=str(DEFAULT))

    def handle(self, *args, path, **options):
        definitions = tomllib.loads(Path(path).read_text(encoding="utf-8"))["indicators"]
        counts = {"created": 0, "new_version": 0, "unchanged": 0}
        changed = []
        with transaction.atomic():
            for position, item in enumerate(definitions, start=1):
                item = dict(item)
                code = item.pop("code")
                item.setdefault("position", position)
                if item.get("threshold") is not None:
                    item["threshold"] = Decimal(str(item["threshold"]))
                try:
                    status, indicator = define_indicator(code, item, recompute=False)
                except ValidationError as error:
                    details = "; ".join(f"{field} : {' '.join(m)}" for field, m in error.message_dict.items())
                    raise CommandError(f"Indicateur « {code} » refusé — {details}") from None
                counts[status] += 1
                if status != "unchanged":
                    changed.append(indicator.pk)
            # All at once rather than one task per definition.
            if changed:
                rebuild(indicator_ids=changed)
        self.stdout.write(
            f"Indicateurs : {counts['created']} créés, {counts['new_version']} nouvelles versions, "
            f"{counts['unchanged']} inchangés."
        )
