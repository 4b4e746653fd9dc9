"""The alert rules Cadre ships, each with its source written out, loaded by `manage.py load_alert_rules`.

Loading is idempotent: a rule is found by its code; one an administrator has edited keeps the edits (its
threshold is a local choice), unless `reset` asks to restore the shipped values.
"""

from decimal import Decimal

from django.db import transaction

from cadre.monitoring.alert_models import AlertRule, Comparison, Severity

FRANCE_ACTIVE = (
    "France Active, « Les signaux d'alerte de la santé financière d'une association » (diagnostic financier du "
    "Dispositif local d'accompagnement) : trésorerie, fonds propres, résultats successifs, équilibre du bilan, "
    "dépendance à un financeur, dettes fiscales et sociales."
)
USUAL = (
    "Seuils usuels de l'analyse financière des associations (guides du DLA, de la Fonda et des experts-comptables "
    "du secteur) :"
)

DEFAULT_RULES = [
    {
        "code": "cash-under-30-days",
        "name": "trésorerie",
        "signal": "cash_days",
        "comparison": Comparison.BELOW,
        "threshold": Decimal(30),
        "consecutive_years": 1,
        "severity": Severity.ALERT,
        "source": f"{USUAL} moins d'un mois de charges décaissables en trésorerie ne laisse aucune marge devant un "
        f"versement en retard ; les salaires du mois ne sont plus assurés. {FRANCE_ACTIVE}",
    },
    {
        "code": "cash-under-90-days",
        "name": "trésorerie courte",
        "signal": "cash_days",
        "comparison": Comparison.BELOW,
        "threshold": Decimal(90),
        "consecutive_years": 1,
        "severity": Severity.VIGILANCE,
        "source": f"{USUAL} trois mois de charges en trésorerie sont l'objectif habituel d'une association financée "
        f"par subventions versées en plusieurs fois ; en dessous, un solde tardif se ressent.",
    },
    {
        "code": "equity-under-3-months",
        "name": "fonds propres",
        "signal": "equity_months",
        "comparison": Comparison.BELOW,
        "threshold": Decimal(3),
        "consecutive_years": 1,
        "severity": Severity.VIGILANCE,
        "source": f"{USUAL} des fonds propres de moins de trois mois de charges ne couvrent ni un exercice déficitaire "
        f"ni le décalage des versements. {FRANCE_ACTIVE}",
    },
    {
        "code": "negative-equity",
        "name": "fonds propres négatifs",
        "signal": "equity_months",
        "comparison": Comparison.BELOW,
        "threshold": Decimal(0),
        "consecutive_years": 1,
        "severity": Severity.ALERT,
        "source": f"{FRANCE_ACTIVE} Des fonds propres négatifs : les pertes cumulées dépassent ce que l'association "
        f"a constitué ; le commissaire aux comptes peut déclencher la procédure d'alerte (code de commerce, L. 612-3).",
    },
    {
        "code": "two-deficits",
        "name": "deux exercices déficitaires",
        "signal": "net_result",
        "comparison": Comparison.BELOW,
        "threshold": Decimal(0),
        "consecutive_years": 2,
        "severity": Severity.ALERT,
        "source": f"{FRANCE_ACTIVE} Un déficit isolé s'absorbe sur les réserves ; deux de suite montrent un modèle "
        f"économique qui ne s'équilibre plus.",
    },
    {
        "code": "one-deficit",
        "name": "exercice déficitaire",
        "signal": "net_result",
        "comparison": Comparison.BELOW,
        "threshold": Decimal(0),
        "consecutive_years": 1,
        "severity": Severity.VIGILANCE,
        "source": f"{USUAL} un exercice clos sur une perte appelle une explication, sans alerte à lui seul.",
    },
    {
        "code": "negative-net-cash",
        "name": "FR − BFR négatif",
        "signal": "net_cash",
        "comparison": Comparison.BELOW,
        "threshold": Decimal(0),
        "consecutive_years": 1,
        "severity": Severity.ALERT,
        "source": f"{USUAL} quand le fonds de roulement ne couvre pas le besoin en fonds de roulement, la trésorerie "
        f"ne tient que par des concours de court terme ou des dettes qui s'allongent. {FRANCE_ACTIVE}",
    },
    {
        "code": "first-funder-over-50",
        "name": "dépendance au premier financeur",
        "signal": "first_funder_share",
        "comparison": Comparison.ABOVE,
        "threshold": Decimal(50),
        "consecutive_years": 1,
        "severity": Severity.VIGILANCE,
        "source": f"{FRANCE_ACTIVE} Plus de la moitié des produits d'un seul financeur : la décision d'un seul "
        f"partenaire suffit à déséquilibrer l'association.",
    },
    {
        "code": "tax-social-debts-rising",
        "name": "dettes fiscales et sociales en hausse",
        "signal": "tax_social_debts_change",
        "comparison": Comparison.ABOVE,
        "threshold": Decimal(10),
        "consecutive_years": 2,
        "severity": Severity.VIGILANCE,
        "source": f"{FRANCE_ACTIVE} Des dettes sociales et fiscales qui montent d'année en année (plus de 10 % deux "
        f"années de suite) : l'association paie ses cotisations en retard pour payer ses salaires.",
    },
    {
        "code": "overdue-payments",
        "name": "versements en retard",
        "signal": "overdue_payments",
        "comparison": Comparison.ABOVE,
        "threshold": Decimal(0),
        "consecutive_years": 1,
        "severity": Severity.VIGILANCE,
        "source": "Données de Cadre : les échéanciers des financements votés. Un versement attendu et non fait "
        "manque à la trésorerie de la structure, quelle que soit sa gestion.",
    },
    {
        "code": "approval-ending",
        "name": "agrément sans renouvellement",
        "signal": "approval_ending",
        "comparison": Comparison.AT_MOST,
        "threshold": Decimal(6),
        "consecutive_years": 1,
        "severity": Severity.VIGILANCE,
        "source": "Données de Cadre : l'agrément de la Caf en cours (projet social ou EVS) finit dans six mois ou "
        "moins et aucun agrément suivant n'est enregistré ; sans agrément, la prestation de service s'arrête.",
    },
    {
        "code": "questionnaire-overdue",
        "name": "questionnaire de l'observatoire non envoyé",
        "signal": "questionnaire_overdue",
        "comparison": Comparison.ABOVE,
        "threshold": Decimal(0),
        "consecutive_years": 1,
        "severity": Severity.VIGILANCE,
        "source": "Données de Cadre : la campagne de l'observatoire est close et le questionnaire de la structure "
        "n'a pas été envoyé.",
    },
    {
        "code": "accounts-overdue",
        "name": "comptes annuels non déposés",
        "signal": "accounts_overdue",
        "comparison": Comparison.ABOVE,
        "threshold": Decimal(0),
        "consecutive_years": 1,
        "severity": Severity.VIGILANCE,
        "source": "Données de Cadre : les comptes annuels exigés par un financement ne sont pas déposés à "
        "l'échéance (la transparence des comptes est la contrepartie des financements pluriannuels).",
    },
    {
        "code": "document-refused-twice",
        "name": "pièce refusée deux fois",
        "signal": "document_refused",
        "comparison": Comparison.AT_LEAST,
        "threshold": Decimal(2),
        "consecutive_years": 1,
        "severity": Severity.VIGILANCE,
        "source": "Données de Cadre : la même pièce exigée a été refusée au moins deux fois pour la même année et "
        "n'a pas été acceptée depuis.",
    },
    {
        "code": "balance-blocked",
        "name": "solde bloqué",
        "signal": "balance_blocked",
        "comparison": Comparison.AT_LEAST,
        "threshold": Decimal(3),
        "consecutive_years": 1,
        "severity": Severity.VIGILANCE,
        "source": "Données de Cadre : le solde d'un financement attend depuis trois mois ou plus une pièce exigée "
        "non acceptée.",
    },
]


def load_default_rules(*, reset=False):
    """Create the shipped rules that are missing (all of them with `reset`, back to their shipped values).
    Returns (created, reset) counts."""
    created = restored = 0
    with transaction.atomic():
        for position, fields in enumerate(DEFAULT_RULES, start=1):
            values = {key: value for key, value in fields.items() if key != "code"} | {"position": position}
            rule = AlertRule.objects.filter(code=fields["code"]).first()
            if rule is None:
                rule = AlertRule(code=fields["code"], **values)
                rule.full_clean()
                rule.save_tracked()
                created += 1
            elif reset and any(getattr(rule, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(rule, key, value)
                rule.full_clean()
                rule.save_tracked()
                restored += 1
    return created, restored
