"""Remind late structures before a campaign closes: `manage.py send_campaign_reminders`, run once a day."""

import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from cadre.core.french import plural
from cadre.observatory import actions
from cadre.observatory.models import Campaign

# Days before the closing on which the structures that have not sent are reminded.
REMINDER_DAYS = (14, 3)


class Command(BaseCommand):
    help = (
        "Relance par courriel les structures qui n'ont pas envoyé leur questionnaire, 14 et 3 jours avant la clôture "
        "de chaque campagne ouverte (à lancer une fois par jour ; une structure relancée depuis moins de 20 heures "
        "ne l'est pas à nouveau)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--today", type=datetime.date.fromisoformat, help="date du jour (AAAA-MM-JJ), pour essai")

    def handle(self, *args, today=None, **options):
        if isinstance(today, str):  # through call_command, options skip argparse's types
            today = datetime.date.fromisoformat(today)
        today = today or timezone.localdate()
        # Reminded in the last 20 hours (by this command or a correspondant's button): not again today.
        recently = timezone.now() - datetime.timedelta(hours=20)
        total = 0
        for campaign in Campaign.objects.filter(opened_at__isnull=False, opens_on__lte=today, closes_on__gte=today):
            if (campaign.closes_on - today).days not in REMINDER_DAYS:
                continue
            late = actions.late_submissions(campaign).exclude(reminded_at__gte=recently)
            reminded, sent = actions.send_reminders(campaign, late)
            total += reminded
            relaunched = plural(reminded, "relancée", with_number=False)
            self.stdout.write(f"{campaign} : {plural(reminded, 'structure')} {relaunched}, {plural(sent, 'courriel')}.")
        if not total:
            self.stdout.write("Aucune relance à envoyer aujourd'hui.")
