"""Users (e-mail login), their memberships of partners or structures, and API tokens."""

import dataclasses
import datetime
import hashlib
import secrets
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.cache import cache
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property

from cadre.core.models import TrackedHistory


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("L'adresse électronique est obligatoire.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


SCOPE_CACHE_SECONDS = 600
ERASED_ACCOUNT_NAME = "compte supprimé"


@dataclasses.dataclass(frozen=True)
class Scope:
    """What a user's memberships reach: read in three small queries, then kept in the cache
    under the user's `scope_key` until a membership or a partner's territory changes."""

    # (partner id or None, partner kind or "", structure id or None, role)
    memberships: tuple = ()
    # partner id → its départements and its communes (INSEE codes)
    departments: dict = dataclasses.field(default_factory=dict)
    communes: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, user):
        from cadre.partners.models import Partner

        memberships = tuple(user.memberships.values_list("partner_id", "partner__kind", "structure_id", "role"))
        partner_ids = {m[0] for m in memberships if m[0]}
        departments, communes = {}, {}
        if partner_ids:
            for through, field, target in (
                (Partner.departments.through, "department_id", departments),
                (Partner.communes.through, "commune_id", communes),
            ):
                for partner_id, code in through.objects.filter(partner_id__in=partner_ids).values_list(
                    "partner_id", field
                ):
                    target.setdefault(partner_id, set()).add(code)
        return cls(
            tuple((p, k or "", s, r) for p, k, s, r in memberships),
            {p: frozenset(c) for p, c in departments.items()},
            {p: frozenset(c) for p, c in communes.items()},
        )


def refresh_scopes(users):
    """Give `users` (a queryset) a new scope key, so that their cached scope is read again."""
    users.update(scope_key=uuid.uuid4())


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("adresse électronique", unique=True)
    first_name = models.CharField("prénom", max_length=150, blank=True)
    last_name = models.CharField("nom", max_length=150, blank=True)
    is_active = models.BooleanField("actif", default=True)
    is_staff = models.BooleanField("accès à l'administration technique", default=False)
    date_joined = models.DateTimeField("inscrit le", default=timezone.now)
    # Names the cached Scope; changed by `refresh_scopes` whenever what the user reaches changes.
    scope_key = models.UUIDField("clé de périmètre", default=uuid.uuid4, editable=False)
    # Personal-data rights: an erased account keeps its row (the history still points at it) but nothing of
    # the person; an unused account is warned once before it is deactivated.
    erased_at = models.DateTimeField("supprimé le", null=True, blank=True, editable=False)
    inactivity_warned_at = models.DateTimeField("prévenu de l’inactivité le", null=True, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = "utilisateur"
        ordering = ["last_name", "first_name", "email"]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self):
        if self.erased_at:
            return ERASED_ACCOUNT_NAME
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email

    @property
    def is_administrator(self):
        """The partnership's data manager: sees and configures everything."""
        return self.is_active and self.is_superuser

    @property
    def requires_two_factor(self):
        """Administrators, and whoever may write on more than one structure (a partner's or the federation's
        editors and managers, an editor of several structures), sign in with a second factor."""
        if not settings.CADRE_TWO_FACTOR_REQUIRED or not self.is_active or self.pk is None:
            return False
        if self.is_superuser or self.is_staff:
            return True
        writes = [(partner, structure) for partner, _, structure, role in self.scope.memberships if role in WRITE_ROLES]
        return any(partner for partner, _ in writes) or len({s for _, s in writes if s}) > 1

    def save(self, *args, **kwargs):
        # Only `refresh_scopes` writes the scope key: an older copy of this user saved later must not
        # bring back an old key, and with it a scope cached before a membership changed.
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "scope_key"
            ]
        super().save(*args, **kwargs)

    @cached_property
    def active_memberships(self):
        """The memberships with their partner or structure, for display."""
        return list(self.memberships.select_related("partner", "structure"))

    @cached_property
    def scope(self):
        if self.pk is None:
            return Scope()
        key = f"cadre:scope:{self.pk}:{self.scope_key}"
        scope = cache.get(key)
        if scope is None:
            scope = Scope.load(self)
            cache.set(key, scope, SCOPE_CACHE_SECONDS)
        return scope

    def forget_scope(self):
        """Read memberships again on next use (after changing them during this object's life)."""
        self.__dict__.pop("scope", None)
        self.__dict__.pop("active_memberships", None)
        if self.pk is not None:
            self.scope_key = type(self).objects.values_list("scope_key", flat=True).get(pk=self.pk)

    def partner_ids(self, roles=None):
        return {p for p, _, _, role in self.scope.memberships if p and (roles is None or role in roles)}

    def structure_ids(self, roles=None):
        return {s for _, _, s, role in self.scope.memberships if s and (roles is None or role in roles)}

    def partner_kinds(self, roles=None):
        """{partner id: kind} of the partners the user belongs to (with one of `roles`)."""
        return {p: kind for p, kind, _, role in self.scope.memberships if p and (roles is None or role in roles)}

    def partner_territory(self, partner_ids):
        """(départements, communes) of the territories of `partner_ids`, among the user's partners."""
        departments, communes = set(), set()
        for partner_id in partner_ids:
            departments |= self.scope.departments.get(partner_id, frozenset())
            communes |= self.scope.communes.get(partner_id, frozenset())
        return frozenset(departments), frozenset(communes)


class Role(models.TextChoices):
    MANAGER = "manager", "responsable"
    EDITOR = "editor", "contributeur"
    VIEWER = "viewer", "lecteur"


WRITE_ROLES = {Role.MANAGER, Role.EDITOR}


class OfOrganisation(models.Model):
    """Something that names one team, a partner's or a structure's, by its `partner` or `structure` field
    (memberships, invitations)."""

    class Meta:
        abstract = True

    @property
    def organisation(self):
        return self.partner or self.structure

    @staticmethod
    def one_organisation(name, message=None):
        """The constraint that exactly one of partner and structure is set."""
        return models.CheckConstraint(
            condition=(Q(partner__isnull=False) & Q(structure__isnull=True))
            | (Q(partner__isnull=True) & Q(structure__isnull=False)),
            name=name,
            violation_error_message=message,
        )


class Membership(OfOrganisation):
    """A user's place in a partner's or a structure's team, with a role."""

    user = models.ForeignKey(User, verbose_name="utilisateur", on_delete=models.CASCADE, related_name="memberships")
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name="partenaire",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="memberships",
    )
    structure = models.ForeignKey(
        "structures.Structure",
        verbose_name="structure",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="memberships",
    )
    role = models.CharField("rôle", max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField("créé le", auto_now_add=True)

    history = TrackedHistory()

    class Meta:
        verbose_name = "rattachement"
        constraints = [
            OfOrganisation.one_organisation(
                "membership_partner_xor_structure", "Un rattachement concerne soit un partenaire, soit une structure."
            ),
            models.UniqueConstraint(fields=["user", "partner"], name="membership_unique_partner"),
            models.UniqueConstraint(fields=["user", "structure"], name="membership_unique_structure"),
        ]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} — {self.organisation}"


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)

    def authenticate(self, raw):
        token = self.active().select_related("user").filter(digest=ApiToken.digest_of(raw)).first()
        now = timezone.now()
        # A write per call would cost more than the call; a minute's precision is enough.
        if token is not None and (
            token.last_used_at is None or now - token.last_used_at > datetime.timedelta(minutes=1)
        ):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token


class ApiToken(models.Model):
    """A token for scripts; only its SHA-256 digest is stored, the secret is shown once."""

    PREFIX = "cadre_"

    uuid = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, verbose_name="utilisateur", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField("nom", max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField("début du jeton", max_length=16, editable=False)
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    last_used_at = models.DateTimeField("dernière utilisation", null=True, blank=True)
    revoked_at = models.DateTimeField("révoqué le", null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "jeton d'API"
        verbose_name_plural = "jetons d'API"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.hint}…)"

    @staticmethod
    def digest_of(raw):
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name):
        """Create a token; returns (token, secret). The secret is not kept."""
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, digest=cls.digest_of(raw), hint=raw[:12])
        return token, raw

    def revoke(self):
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])


class AccountEventKind(models.TextChoices):
    LOGIN = "login", "Connexion"
    LOGIN_FAILED = "login_failed", "Connexion refusée"
    OTP_FAILED = "otp_failed", "Code de vérification erroné"
    OTP_LOCKED = "otp_locked", "Double authentification bloquée"
    PASSWORD_CHANGED = "password_changed", "Mot de passe changé"
    PASSWORD_RESET = "password_reset", "Mot de passe réinitialisé"
    TWO_FACTOR_ENABLED = "2fa_enabled", "Double authentification activée"
    TWO_FACTOR_DEVICE_CHANGED = "2fa_device", "Application d’authentification changée"
    TWO_FACTOR_DISABLED = "2fa_disabled", "Double authentification désactivée"
    TWO_FACTOR_RESET = "2fa_reset", "Double authentification réinitialisée par un administrateur"
    RECOVERY_CODES = "recovery_codes", "Nouveaux codes de secours"
    RECOVERY_CODE_USED = "recovery_used", "Code de secours utilisé"
    PROCONNECT_LINKED = "proconnect_linked", "Identité ProConnect associée"
    INACTIVITY_WARNING = "inactivity_warning", "Avertissement avant désactivation pour inactivité"
    DEACTIVATED = "deactivated", "Compte désactivé pour inactivité"
    DATA_EXPORTED = "data_exported", "Données personnelles téléchargées"


class AccountEventQuerySet(models.QuerySet):
    def failed_codes_since_last_success(self, user, since):
        """Wrong one-time codes of `user` after `since` and after the last code accepted (or reset)."""
        events = self.filter(user=user, at__gte=since)
        last_success = (
            events.filter(
                kind__in=[
                    AccountEventKind.LOGIN,
                    AccountEventKind.TWO_FACTOR_RESET,
                    AccountEventKind.TWO_FACTOR_ENABLED,
                    AccountEventKind.RECOVERY_CODE_USED,
                ]
            )
            .order_by("-at")
            .values_list("at", flat=True)
            .first()
        )
        failures = events.filter(kind=AccountEventKind.OTP_FAILED)
        if last_success is not None:
            failures = failures.filter(at__gt=last_success)
        return failures


class AccountEvent(models.Model):
    """What happened to an account's access: sign-ins, refusals, password and two-factor changes.

    Shown to the user on « Mon compte »; an administrator's action names the administrator (`actor`)."""

    user = models.ForeignKey(User, verbose_name="compte", on_delete=models.CASCADE, related_name="account_events")
    kind = models.CharField("événement", max_length=20, choices=AccountEventKind.choices)
    at = models.DateTimeField("date", default=timezone.now)
    actor = models.ForeignKey(
        User, verbose_name="par", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    detail = models.CharField("précision", max_length=255, blank=True)
    ip_address = models.GenericIPAddressField("adresse IP", null=True, blank=True)
    user_agent = models.CharField("navigateur", max_length=255, blank=True)

    objects = AccountEventQuerySet.as_manager()

    class Meta:
        verbose_name = "événement de compte"
        verbose_name_plural = "événements de compte"
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["user", "-at"], name="account_event_user_at")]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.user} — {self.at:%d/%m/%Y %H:%M}"

    @classmethod
    def record(cls, user, kind, *, request=None, actor=None, detail=""):
        ip_address, user_agent = None, ""
        if request is not None:
            ip_address = request.META.get("REMOTE_ADDR") or None
            user_agent = request.META.get("HTTP_USER_AGENT", "")[:255]
        return cls.objects.create(
            user=user, kind=kind, actor=actor, detail=detail[:255], ip_address=ip_address, user_agent=user_agent
        )


class ProConnectIdentity(models.Model):
    """A ProConnect identity (issuer + subject) linked to an account; the subject is stable for one identity
    provider, so a person signing in through another one is linked again by their verified e-mail."""

    user = models.ForeignKey(
        User, verbose_name="compte", on_delete=models.CASCADE, related_name="proconnect_identities"
    )
    issuer = models.CharField("émetteur", max_length=255)
    subject = models.CharField("identifiant ProConnect (sub)", max_length=255)
    email = models.EmailField("adresse électronique transmise")
    siret = models.CharField("SIRET transmis", max_length=14, blank=True)
    idp_id = models.CharField("fournisseur d’identité", max_length=255, blank=True)
    linked_at = models.DateTimeField("associée le", default=timezone.now)
    last_login_at = models.DateTimeField("dernière connexion", null=True, blank=True)

    class Meta:
        verbose_name = "identité ProConnect"
        verbose_name_plural = "identités ProConnect"
        ordering = ["-linked_at"]
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="proconnect_identity_unique")]

    def __str__(self):
        return f"{self.email} ({self.subject[:12]}…)"


class InvitationQuerySet(models.QuerySet):
    def pending(self, now=None):
        return self.filter(accepted_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=now or timezone.now())


class Invitation(OfOrganisation):
    """A one-time link inviting an e-mail address into a partner's or a structure's team with a role.

    Only the SHA-256 digest of the link's secret is stored; resending makes a new secret and a new deadline."""

    uuid = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField("adresse électronique")
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name="partenaire",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitations",
    )
    structure = models.ForeignKey(
        "structures.Structure",
        verbose_name="structure",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitations",
    )
    role = models.CharField("rôle", max_length=10, choices=Role.choices)
    # The account it opens: an existing one, or one made inactive at invitation (ProConnect links to it by e-mail).
    user = models.ForeignKey(
        User, verbose_name="compte", on_delete=models.SET_NULL, null=True, related_name="invitations"
    )
    invited_by = models.ForeignKey(
        User, verbose_name="invité par", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField("envoyée le", default=timezone.now)
    sent_at = models.DateTimeField("dernier envoi", default=timezone.now)
    expires_at = models.DateTimeField("expire le")
    accepted_at = models.DateTimeField("acceptée le", null=True, blank=True)
    cancelled_at = models.DateTimeField("annulée le", null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = "invitation"
        ordering = ["-created_at"]
        constraints = [
            OfOrganisation.one_organisation("invitation_partner_xor_structure"),
        ]

    def __str__(self):
        return f"{self.email} — {self.get_role_display()} — {self.organisation}"

    @property
    def state(self):
        if self.accepted_at:
            return "acceptée"
        if self.cancelled_at:
            return "annulée"
        if self.expires_at <= timezone.now():
            return "expirée"
        return "en attente"
