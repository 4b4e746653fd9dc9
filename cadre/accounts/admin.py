from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.html import format_html, format_html_join

from . import two_factor
from .models import AccountEvent, ApiToken, Membership, ProConnectIdentity, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["partner", "structure"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "is_superuser"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Identité", {"fields": ["first_name", "last_name"]}),
        ("Droits", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Sécurité", {"fields": ["two_factor_state", "recent_activity"]}),
    ]
    readonly_fields = ["two_factor_state", "recent_activity"]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    inlines = [MembershipInline]
    filter_horizontal = []
    list_filter = ["is_active", "is_superuser"]
    actions = ["reset_two_factor"]

    @admin.display(description="double authentification")
    def two_factor_state(self, user):
        if user.pk is None:
            return "—"
        state = "activée" if two_factor.has_two_factor(user) else "non activée"
        required = " (obligatoire pour ce compte)" if user.requires_two_factor else ""
        return f"{state}{required} — action « Réinitialiser la double authentification » dans la liste des comptes"

    @admin.display(description="activité récente")
    def recent_activity(self, user):
        if user.pk is None:
            return "—"
        events = user.account_events.select_related("actor")[:20]
        rows = format_html_join(
            "",
            "<li>{} — {}{}</li>",
            ((f"{e.at:%d/%m/%Y %H:%M}", e.get_kind_display(), f" ({e.detail})" if e.detail else "") for e in events),
        )
        return format_html("<ul>{}</ul>", rows) if events else "aucune"

    @admin.action(description="Réinitialiser la double authentification (appareil perdu)")
    def reset_two_factor(self, request, queryset):
        for user in queryset:
            two_factor.reset_two_factor(user, actor=request.user, request=request)
        self.message_user(
            request,
            f"Double authentification réinitialisée pour {queryset.count()} compte(s) : chacun choisira une nouvelle "
            "application à sa prochaine connexion (si ses droits l'exigent) ; c'est inscrit dans leur historique.",
            messages.SUCCESS,
        )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "hint", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["digest", "hint"]


@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "kind", "detail", "actor", "ip_address"]
    list_filter = ["kind"]
    search_fields = ["user__email"]
    date_hierarchy = "at"
    list_select_related = ["user", "actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ProConnectIdentity)
class ProConnectIdentityAdmin(admin.ModelAdmin):
    list_display = ["email", "user", "siret", "idp_id", "linked_at", "last_login_at"]
    search_fields = ["email", "user__email", "siret"]
    raw_id_fields = ["user"]
    readonly_fields = ["issuer", "subject", "email", "siret", "idp_id", "linked_at", "last_login_at"]
