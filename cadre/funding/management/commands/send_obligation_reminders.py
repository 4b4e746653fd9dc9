"""E-mail each person the dates of their obligations calendar that fall in 15 and in 3 days:
`manage.py send_obligation_reminders`, run once a day."""

import datetime

from django.conf import settings
from django.core import mail
from django.core.management.base import BaseCommand
from django.utils import timezone

from cadre.accounts.models import User
from cadre.core.french import plural
from cadre.funding.calendar import obligations

REMINDER_DAYS = (15, 3)


class Command(BaseCommand):
    help = (
        "Envoie à chacun, par courriel, les échéances de son calendrier qui tombent dans 15 et dans 3 jours "
        "(fins d'agrément et de convention, pièces à déposer, versements attendus, feuilles de route, réunions, "
        "observatoire). Une fois par jour."
    )

    def add_arguments(self, parser):
        parser.add_argument("--today", type=datetime.date.fromisoformat, help="date du jour (AAAA-MM-JJ), pour essai")

    def handle(self, *args, today=None, **options):
        if isinstance(today, str):  # through call_command, options skip argparse's types
            today = datetime.date.fromisoformat(today)
        today = today or timezone.localdate()
        days = [today + datetime.timedelta(days=n) for n in REMINDER_DAYS]
        messages = []
        for user in User.objects.filter(is_active=True, memberships__isnull=False).distinct().order_by("pk"):
            # One reading over the span, kept to the reminder days (half the queries of one per day).
            due = [o for o in obligations(user, min(days), max(days)) if o.day in days]
            if not due:
                continue
            lines = "\n".join(f"- {o.day:%d/%m/%Y} · {o.kind} : {o.title}" for o in due)
            messages.append(
                mail.EmailMessage(
                    subject=f"Cadre : {len(due)} échéance{'s' if len(due) > 1 else ''} à venir",
                    body=(
                        f"Bonjour,\n\nÉchéances à venir pour les structures et les conventions que vous suivez :\n\n"
                        f"{lines}\n\nLe calendrier complet est dans Cadre, rubrique "
                        f"« Conventions et financements ».\n\n"
                        f"{settings.CADRE_OPERATOR['name']}"
                    ),
                    to=[user.email],
                )
            )
        if messages:
            mail.get_connection().send_messages(messages)
        self.stdout.write(
            f"Rappels d'échéances : {plural(len(messages), 'courriel')} "
            f"{plural(len(messages), 'envoyé', with_number=False)}."
        )
