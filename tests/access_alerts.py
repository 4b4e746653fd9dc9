"""Rows of the role × URL matrix (tests/test_access.py) for the early warning's pages
(tests/test_monitoring_alert_pages.py): the alerts list and its exports, acknowledgements, subscriptions, a
structure's financial health, the alert rules."""

from django.urls import reverse
from django.utils import timezone

from cadre.monitoring.alert_models import AlertRule, HealthLevel, HealthStatus
from tests.test_access import A_VISIBLE, ADMIN_ONLY, ADMIN_ONLY_POST, LOGIN, row

# The partners (federation included) and the administrators watch the alerts of their territory.
PARTNERS = row(LOGIN, 403, 403, 200, 200, 200, 200, 200)
PARTNERS_POST = row(LOGIN, 403, 403, 302, 302, 302, 302, 403)
# Structure A's alert: acknowledged by the writers of a partner that sees A (the city's officer only reads), and by
# the administrators.
A_ACKNOWLEDGE = row(LOGIN, 403, 404, 200, 404, 403, 200, 200)
# Followed by e-mail by the users of a partner that funds A (the Caf 69 and the city of Villeurbanne).
A_SUBSCRIBE = row(LOGIN, 403, 404, 302, 404, 302, 403, 403)


def a_alert(o):
    """Structure A in alerte for 2025, as the engine would have written it."""
    now = timezone.now()
    HealthStatus.objects.update_or_create(
        structure=o["a"],
        year=2025,
        defaults={
            "level": HealthLevel.ALERT,
            "facts": [{"rule": "essai", "signal": "cash_days", "severity": "alerte", "text": "trésorerie : 18 jours"}],
            "computed_at": now,
            "level_since": now,
        },
    )
    return o["a"]


def a_rule():
    return AlertRule.objects.first() or AlertRule.objects.create(
        name="trésorerie", signal="cash_days", comparison="below", threshold=30
    )


ROWS = {
    "monitoring:alerts": ("get", lambda o: reverse("monitoring:alerts"), PARTNERS),
    "monitoring:alerts_export": ("get", lambda o: reverse("monitoring:alerts_export", args=["csv"]), PARTNERS),
    "monitoring:alerts_subscribe_all": ("post", lambda o: reverse("monitoring:alerts_subscribe_all"), PARTNERS_POST),
    "monitoring:health": ("get", lambda o: reverse("monitoring:health", args=[a_alert(o).uuid]), A_VISIBLE),
    "monitoring:health_subscribe": (
        "post",
        lambda o: reverse("monitoring:health_subscribe", args=[o["a"].uuid]),
        A_SUBSCRIBE,
    ),
    "monitoring:alert_acknowledge": (
        "get",
        lambda o: reverse("monitoring:alert_acknowledge", args=[a_alert(o).uuid, 2025]),
        A_ACKNOWLEDGE,
    ),
    "monitoring:rules": ("get", lambda o: reverse("monitoring:rules"), ADMIN_ONLY),
    "monitoring:rule_create": ("get", lambda o: reverse("monitoring:rule_create"), ADMIN_ONLY),
    "monitoring:rule_edit": ("get", lambda o: reverse("monitoring:rule_edit", args=[a_rule().uuid]), ADMIN_ONLY),
    "monitoring:rule_toggle": (
        "post",
        lambda o: reverse("monitoring:rule_toggle", args=[a_rule().uuid]),
        ADMIN_ONLY_POST,
    ),
}
