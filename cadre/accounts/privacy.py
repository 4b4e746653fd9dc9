"""Personal-data rights: a user's own data, erasure of an account, and the daily
expiry of unused accounts (`manage.py expire_accounts`).

Domain apps add what they hold about a person with `register_source` (accounts may not import them)."""

import calendar
import datetime
import functools

from django.apps import apps
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from cadre.accounts import invitations
from cadre.accounts.models import AccountEvent, AccountEventKind, ApiToken, User, refresh_scopes

HISTORY_TYPES = {"+": "création", "~": "modification", "-": "suppression"}
# Days between the warning e-mail and the deactivation it announces.
WARNING_DAYS = 30


# A user's own data --------------------------------------------------------------------------------------------

_SOURCES = []


def register_source(label, read):
    """`read(user)` gives a list of dicts: what a domain app holds about `user` (shown and exported under label)."""
    _SOURCES.append((label, read))


def _dt(value):
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def history_models():
    """Every model's history table (django-simple-history), with who made each change."""
    return [m for m in apps.get_models() if hasattr(m, "instance_type") and hasattr(m, "history_user_id")]


@functools.cache
def _changes_statement():
    """The SQL reading every history table's rows of one user, newest first (built once per process: composed by
    the ORM, the 35 parts cost more than the query itself)."""
    quote = connection.ops.quote_name
    parts = [
        f"SELECT history_date, history_type, CAST({quote(model.instance_type._meta.pk.column)} AS varchar), {index} "
        f"FROM {quote(model._meta.db_table)} WHERE history_user_id = %(user)s"
        for index, model in enumerate(history_models())
    ]
    return " UNION ALL ".join(parts) + " ORDER BY 1 DESC"


def changes_made_by(user):
    """The changes `user` made, newest first: one query over every history table (UNION ALL)."""
    labels = [str(model.instance_type._meta.verbose_name) for model in history_models()]
    with connection.cursor() as cursor:
        cursor.execute(_changes_statement(), {"user": user.pk})
        changes = cursor.fetchall()
    return [
        {"date": _dt(_aware(at)), "fiche": labels[table], "identifiant": pk, "action": HISTORY_TYPES[kind]}
        for at, kind, pk, table in changes
    ]


def _aware(value):
    """A date and time read by raw SQL: SQLite gives what it stores (UTC, without its zone)."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value


def personal_data(user):
    """Everything Cadre keeps about `user`, as the JSON download and the readable page give it."""
    from cadre.accounts import two_factor

    device = two_factor.confirmed_device(user)
    kinds = dict(AccountEventKind.choices)
    data = {
        "compte": {
            "adresse électronique": user.email,
            "prénom": user.first_name,
            "nom": user.last_name,
            "inscrit le": _dt(user.date_joined),
            "dernière connexion": _dt(user.last_login),
            "actif": user.is_active,
            "administrateur": user.is_superuser,
            "double authentification activée le": _dt(device.created_at) if device else None,
        },
        "rattachements": [
            {"organisation": str(m.organisation), "rôle": m.get_role_display(), "depuis le": _dt(m.created_at)}
            for m in user.active_memberships
        ],
        "identités ProConnect": [
            {"adresse électronique": i.email, "SIRET": i.siret, "associée le": _dt(i.linked_at)}
            for i in user.proconnect_identities.all()
        ],
        "jetons d’API": [
            {
                "nom": t.name,
                "début": t.hint,
                "créé le": _dt(t.created_at),
                "dernière utilisation": _dt(t.last_used_at),
                "révoqué le": _dt(t.revoked_at),
            }
            for t in user.api_tokens.all()
        ],
        # Every sign-in adds an event: read as plain values, hundreds of them cost no model to build.
        "journal du compte": [
            {
                "date": _dt(at),
                "événement": kinds.get(kind, kind),
                "précision": detail,
                "adresse IP": ip,
                "navigateur": agent,
            }
            for at, kind, detail, ip, agent in user.account_events.values_list(
                "at", "kind", "detail", "ip_address", "user_agent"
            )
        ],
        "modifications faites": changes_made_by(user),
    }
    for label, read in _SOURCES:
        data[label] = read(user)
    return data


def readable_sections(data, *, limit):
    """`personal_data` for a page: (title, facts or None, columns, rows, rows left out) per part."""
    sections = []
    for title, part in data.items():
        if isinstance(part, dict):
            sections.append((title, [(k, _readable(v)) for k, v in part.items()], [], [], 0))
        else:
            columns = list(part[0]) if part else []
            rows = [[_readable(v) for v in row.values()] for row in part[:limit]]
            sections.append((title, None, columns, rows, max(0, len(part) - limit)))
    return sections


def _readable(value):
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        moment = datetime.datetime.fromisoformat(value)
        return moment.strftime("%d/%m/%Y %H:%M")
    return str(value)


# Erasure ------------------------------------------------------------------------------------------------------


class ErasureRefused(Exception):
    """Why an account cannot be erased, in French."""


def erase_account(user, *, actor=None):
    """Anonymise `user`: nothing of the person is left, the row stays so the history reads « compte supprimé »."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if user.is_superuser and not User.objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk).exists():
        raise ErasureRefused(
            "Vous êtes le seul administrateur ou la seule administratrice actif de la plateforme : "
            "nommez-en un autre avant de supprimer votre compte."
        )
    with transaction.atomic():
        for membership in user.memberships.all():
            membership._history_user = actor or user
            membership.delete()
        for model in (TOTPDevice, StaticDevice):
            model.objects.filter(user=user).delete()
        user.api_tokens.all().delete()
        user.proconnect_identities.all().delete()
        user.account_events.all().delete()
        user.email = f"compte-supprime-{user.pk}@cadre.invalid"
        user.first_name = user.last_name = ""
        user.set_unusable_password()
        user.is_active = user.is_staff = user.is_superuser = False
        user.erased_at = timezone.now()
        user.save()
        refresh_scopes(User.objects.filter(pk=user.pk))


# Unused accounts ----------------------------------------------------------------------------------------------


def months_before(moment, months):
    year, month = divmod(moment.month - 1 - months, 12)
    year, month = moment.year + year, month + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def expire_accounts(now=None):
    """The daily round: warn the accounts a month from deactivation, deactivate those warned at least 30 days ago
    and still unused, forget old sign-in records. Returns (warned, deactivated, events deleted)."""
    now = now or timezone.now()
    months = settings.CADRE_INACTIVE_ACCOUNT_MONTHS
    active = User.objects.filter(is_active=True, erased_at__isnull=True).annotate(
        last_seen=Coalesce("last_login", "date_joined")
    )
    # A warning counts only if given since the last sign-in; the deactivation waits for it, however late the
    # command runs, so nobody is deactivated without the month's notice.
    warned_since_seen = Q(inactivity_warned_at__isnull=False, inactivity_warned_at__gte=F("last_seen"))
    to_deactivate = list(
        active.filter(
            warned_since_seen,
            last_seen__lte=months_before(now, months),
            inactivity_warned_at__lte=now - datetime.timedelta(days=WARNING_DAYS),
        )
    )
    for user in to_deactivate:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(is_active=False, inactivity_warned_at=None)
            ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
            AccountEvent.record(user, AccountEventKind.DEACTIVATED, detail=f"aucune connexion depuis {months} mois")
    to_warn = list(active.filter(last_seen__lte=months_before(now, months - 1)).exclude(warned_since_seen))
    for user in to_warn:
        deadline = max(months_before(user.last_seen, -months), now + datetime.timedelta(days=WARNING_DAYS))
        context = {
            "user": user,
            "deadline": deadline,
            "months": months,
            "site_url": settings.CADRE_SITE_URL,
            "service_title": settings.CADRE_OPERATOR["service_title"],
        }
        send_mail(
            f"{settings.CADRE_OPERATOR['service_title']} : votre compte sera désactivé le {deadline:%d/%m/%Y}",
            render_to_string("accounts/email/inactivity_warning.txt", context),
            None,
            [user.email],
        )
        User.objects.filter(pk=user.pk).update(inactivity_warned_at=now)
        AccountEvent.record(user, AccountEventKind.INACTIVITY_WARNING, detail=f"désactivation le {deadline:%d/%m/%Y}")
    cutoff = now - datetime.timedelta(days=settings.CADRE_ACCOUNT_EVENTS_RETENTION_DAYS)
    deleted, _ = AccountEvent.objects.filter(at__lt=cutoff).delete()
    invitations.delete_expired(now)
    return len(to_warn), len(to_deactivate), deleted
