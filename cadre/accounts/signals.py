"""Keep cached scopes right: whatever changes what a user reaches gives them a new scope key.

Bulk writes (`bulk_create`, `update`) send no signal: code that changes memberships or partner
territories that way calls `refresh_scopes` itself.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save

from cadre.accounts.models import Membership, User, refresh_scopes
from cadre.partners.models import Partner


def membership_changed(sender, instance, **kwargs):
    refresh_scopes(User.objects.filter(pk=instance.user_id))


def partner_saved(sender, instance, created, raw=False, **kwargs):
    # Its kind decides what its members reach; a new partner has no members yet.
    if not created and not raw:
        refresh_scopes(User.objects.filter(memberships__partner=instance))


def partner_territory_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    if not reverse:
        users = User.objects.filter(memberships__partner=instance)
    elif pk_set is None:  # a département's or commune's partners were all removed
        users = User.objects.filter(memberships__partner__isnull=False)
    else:
        users = User.objects.filter(memberships__partner__in=pk_set)
    refresh_scopes(users)


def connect():
    post_save.connect(membership_changed, sender=Membership, dispatch_uid="scope-membership-saved")
    post_delete.connect(membership_changed, sender=Membership, dispatch_uid="scope-membership-deleted")
    post_save.connect(partner_saved, sender=Partner, dispatch_uid="scope-partner-saved")
    for through in (Partner.departments.through, Partner.communes.through):
        m2m_changed.connect(partner_territory_changed, sender=through, dispatch_uid=f"scope-{through.__name__}")
