from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cadre.core.french import plural
from cadre.observatory.actions import QuestionnaireInUse, load_questionnaire
from cadre.observatory.definitions import DefinitionError

DEFAULT = Path(__file__).resolve().parents[2] / "questionnaires"


class Command(BaseCommand):
    help = "Charge un questionnaire de l'observatoire (fichier TOML) ; sans argument, ceux livrés avec Cadre."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", type=Path, help="fichiers TOML (docs/questionnaires.md)")

    def handle(self, *args, paths, **options):
        paths = paths or sorted(DEFAULT.glob("*.toml"))
        labels = {"created": "chargé", "unchanged": "inchangé", "replaced": "remplacé"}
        for path in paths:
            if not path.is_file():
                raise CommandError(f"Fichier introuvable : {path}")
            try:
                questionnaire, outcome = load_questionnaire(path)
            except DefinitionError as error:
                raise CommandError(
                    f"{path.name} : {plural(len(error.errors), 'erreur')}, rien n'a été chargé.\n- "
                    + "\n- ".join(error.errors)
                ) from None
            except QuestionnaireInUse as error:
                raise CommandError(str(error)) from None
            self.stdout.write(
                f"{questionnaire} : {labels[outcome]} ({questionnaire.sections.count()} rubriques, "
                f"{questionnaire.questions.count()} questions, {questionnaire.rules.count()} règles)."
            )
