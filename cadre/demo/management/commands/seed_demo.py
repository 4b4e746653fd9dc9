"""Create the demo partnership: `manage.py seed_demo [--if-empty] [--seed N] [--scale demo|national|national_demo]`."""

from django.core.management.base import BaseCommand, CommandError

from cadre.demo import seed as demo_seed


class Command(BaseCommand):
    help = (
        "Crée les données de démonstration (partenaires, structures, agréments, comptes, campagnes de "
        "l'observatoire) du Rhône et des Bouches-du-Rhône, ou de toute la France avec --scale national. Toujours "
        "les mêmes pour une même graine."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="ne rien faire (sans erreur) si des structures ou des comptes de démonstration existent déjà",
        )
        parser.add_argument("--seed", type=int, default=demo_seed.DEFAULT_SEED, help="graine du générateur")
        parser.add_argument(
            "--scale",
            choices=["demo", "national", "national_demo"],
            default="demo",
            help=(
                "demo : Rhône et Bouches-du-Rhône (~150 structures) ; national : ~4 000 structures en France ; "
                "national_demo : la France, avec dans le Rhône et les Bouches-du-Rhône la démonstration et ses comptes"
            ),
        )

    def handle(self, *args, if_empty=False, seed=demo_seed.DEFAULT_SEED, scale="demo", **options):
        if if_empty and demo_seed.demo_exists():
            self.stdout.write("Des structures existent déjà : données de démonstration non créées.")
            return
        try:
            summary = demo_seed.seed(scale=scale, seed=seed)
        except demo_seed.SeedError as error:
            raise CommandError(str(error)) from error
        if options.get("verbosity", 1) < 1:
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Démonstration créée : {summary['structures']} structures, {summary['approvals']} agréments, "
                f"{summary['partners']} partenaires, {summary['users']} comptes en {summary['seconds']:.1f} s "
                f"(graine {seed})."
            )
        )
        monitoring = summary["monitoring"]
        self.stdout.write(
            f"Comptes annuels : {monitoring['statements']} comptes de trois exercices, "
            f"{monitoring['difficulties']} structures en difficulté, {monitoring['statuses']} états de santé "
            f"(dont {monitoring['seconds']:.1f} s)."
        )
        observatory = summary["observatory"]
        if observatory.get("skipped"):
            self.stdout.write("Observatoire non créé : des campagnes existent déjà pour ces années.")
            return
        self.stdout.write(
            f"Observatoire : {observatory['campaigns']} campagnes, {observatory['submissions']} questionnaires, "
            f"{observatory['answers']} réponses, {observatory['anomalies']} points à vérifier "
            f"(dont {observatory['seconds']:.1f} s)."
        )
