"""Print the demo accounts and their password (what `make run` shows before serving)."""

from django.core.management.base import BaseCommand
from django.db.models import Count
from django.utils import timezone

from cadre.accounts.models import Membership, User
from cadre.demo import cast
from cadre.demo.observatory import STATE_LABELS, describe_states
from cadre.observatory.models import Campaign, SubmissionStatus

ROLE_LINES = {
    cast.ADMIN: "administratrice de la plateforme (gestionnaire de données du partenariat)",
}


class Command(BaseCommand):
    help = "Affiche les comptes de démonstration et leur mot de passe, s'ils existent."

    def handle(self, *args, **options):
        demo_users = User.objects.filter(email__iendswith="@" + cast.DOMAIN)
        if not demo_users.exists():
            self.stdout.write("Pas de comptes de démonstration (voir « manage.py seed_demo »).")
            return
        memberships = {}
        for membership in Membership.objects.filter(user__in=demo_users).select_related("user", "partner", "structure"):
            memberships.setdefault(membership.user.email, []).append(membership)
        existing = set(demo_users.values_list("email", flat=True))

        self.stdout.write(f"Comptes de démonstration — mot de passe pour tous : {cast.PASSWORD}")
        required = [
            u.email for u in demo_users.filter(email__in=[cast.ADMIN, *cast.PARTNER_ACCOUNTS]) if u.requires_two_factor
        ]
        if required:
            self.stdout.write(
                f"  Double authentification demandée dès la première connexion à {len(required)} d'entre eux "
                "(administration, contributeurs des partenaires) : une application d'authentification suffit."
            )
        cast_emails = [cast.ADMIN, *cast.PARTNER_ACCOUNTS]
        width = max(len(email) for email in cast_emails) + 2
        for email in cast_emails:
            if email not in existing:
                continue
            if email in ROLE_LINES:
                line = ROLE_LINES[email]
            else:
                line = (
                    " ; ".join(f"{m.get_role_display()} — {m.organisation}" for m in memberships.get(email, []))
                    or "sans rattachement"
                )
            self.stdout.write(f"  {email.ljust(width)}{line}")

        editors = sorted(e for e in existing if e.startswith("structure-"))
        sample = sorted(e for e in existing if e.startswith("contributeur-"))
        others = sorted(e for e in existing if e not in cast_emails and e not in editors and e not in sample)
        if others:
            shown = ", ".join(others[:3]) + ("…" if len(others) > 3 else "")
            self.stdout.write(f"  … et {len(others)} autres comptes de partenaires ({shown})")
        if editors:
            self.stdout.write(
                f"  {editors[0].split('@')[0]} … {editors[-1]} : contributeur ou contributrice de chaque structure"
            )
        if sample:
            self.stdout.write(
                f"  {sample[0].split('@')[0]} … {sample[-1]} : contributeur ou contributrice d'un échantillon "
                "de structures"
            )
        for label, email in (("A", cast.STRUCTURE_A), ("B", cast.STRUCTURE_B)):
            for membership in memberships.get(email, []):
                if membership.structure_id:
                    structure = membership.structure
                    submission = structure.submissions.select_related("campaign").order_by("-campaign__year").first()
                    state = (
                        f" ; questionnaire {submission.campaign.year} {STATE_LABELS[submission.status][0]}"
                        if submission
                        else ""
                    )
                    self.stdout.write(
                        f"    structure {label} ({email.split('@')[0]}) : {structure.name}, "
                        f"{structure.commune.name} ({structure.commune.department_id}){state}"
                    )
        self.campaigns()

    def campaigns(self):
        """One line per campaign of the observatory: its phase and where its questionnaires stand."""
        today = timezone.localdate()
        for campaign in Campaign.objects.order_by("-year")[:2]:
            states = dict(
                campaign.submissions.values_list("status").annotate(count=Count("pk")).values_list("status", "count")
            )
            if campaign.opened_at is None:
                phase = "en préparation"
            elif campaign.is_closed(today):
                phase = f"close depuis le {campaign.closes_on:%d/%m/%Y}"
            else:
                phase = f"ouverte jusqu'au {campaign.closes_on:%d/%m/%Y}"
            described = describe_states({SubmissionStatus(k): v for k, v in states.items()}) or "aucun questionnaire"
            self.stdout.write(f"  Observatoire {campaign.year} : campagne {phase} — {described}")
