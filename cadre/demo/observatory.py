"""The demo observatory: yearly campaigns of the SENACS questionnaire with plausible answers.

`seed_demo` opens two campaigns: last year's, closed and fully validated, and the current one
(the year before today's), opened a month ago, with submissions in every state of the review and
anomalies in every state. `seed_observatory --campaigns 10` writes ten years at national scale for
the benchmarks. Same seed, same answers.

Answers are calibrated on the published SENACS figures: a centre social has on average about
33 employees for 17 FTE, 30 activity volunteers besides its board, a budget of about 600 k€ of
which the Caf brings a quarter to a third and the communes about a quarter, and reaches 2,000 to
3,000 people; an EVS has 0 to 3 employees (about 1 FTE), 15 to 20 volunteers and 60 to 80 k€.
Each structure has a life (size, staff, volunteers, public, funders…) that drifts a little from
one year to the next, so yearly changes stay small except for a few deliberate anomalies.

Everything is written in bulk (COPY on PostgreSQL), with the effects the observatory's actions
would have had: events with their actors, dates and comments, versions, validations, anomalies
as the detector finds them (`detect_anomalies` is replayed in memory on the same rules).
"""

import datetime
import decimal
import math
import time
import uuid
from bisect import bisect_left
from collections import Counter, defaultdict
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from cadre.accounts.models import WRITE_ROLES, Membership
from cadre.core.bulk import adapter, insert_rows
from cadre.demo import cast
from cadre.observatory import actions
from cadre.observatory.models import (
    NUMERIC_KINDS,
    TO_REVIEW_STATUSES,
    Anomaly,
    AnomalyKind,
    AnomalyStatus,
    Answer,
    Campaign,
    Correspondent,
    QuestionKind,
    Questionnaire,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from cadre.partners.models import PartnerKind
from cadre.structures.models import (
    MAIN_APPROVAL_KINDS,
    Approval,
    ApprovalKind,
    Management,
    PriorityAreaStatus,
    Structure,
    StructureKind,
    add_months,
)

QUESTIONNAIRE_FILE = Path(actions.__file__).resolve().parent / "questionnaires" / "senacs-v1.toml"
QUESTIONNAIRE_CODE = "senacs"
D = decimal.Decimal
S = SubmissionStatus
CENTRE, EVS = StructureKind.CENTRE_SOCIAL, StructureKind.EVS

# The current campaign, a month into its three months: how its submissions stand.
CURRENT_STATES = [
    (S.NOT_STARTED, 0.18),
    (S.DRAFT, 0.27),
    (S.SUBMITTED, 0.18),
    (S.RETURNED, 0.08),
    (S.RESUBMITTED, 0.07),
    (S.VALIDATED, 0.22),
]
PAST_RETURNED_SHARE = 0.15  # validated after a return and a second sending
CURRENT_VALIDATED_RETURNED_SHARE = 0.3
REFERENCE_STATUSES = {*TO_REVIEW_STATUSES, S.VALIDATED}  # what the detector compares with
DETECTED_STATUSES = {S.SUBMITTED, S.RETURNED, S.RESUBMITTED, S.VALIDATED}  # sent once: anomalies detected
# From this many submissions on, PostgreSQL loads without the foreign keys and secondary indexes of
# the big tables, rebuilt at the end (see bulk_load).
BULK_LOAD_SUBMISSIONS = 5000


# ---------------------------------------------------------------------------------------------
# Words


FAITS_MARQUANTS = [
    "Renouvellement du projet social, avec plus de deux cents habitants consultés en porte-à-porte et lors de "
    "trois réunions publiques.",
    "Arrivée d'une nouvelle directrice au printemps, après six mois de vacance du poste.",
    "Ouverture d'un espace France services dans nos locaux, avec deux agents d'accueil formés.",
    "Travaux de rénovation énergétique du bâtiment : activités délocalisées pendant trois mois.",
    "Lancement d'un atelier de réparation de vélos animé par des bénévoles.",
    "Fête de quartier organisée avec les associations et le bailleur, qui a réuni plus de 800 personnes.",
    "Création d'un accueil jeunes le vendredi soir, en lien avec la prévention spécialisée.",
    "Fin de deux contrats aidés non renouvelés : certaines activités ont été réduites à la rentrée.",
    "Forte hausse des demandes d'aide aux démarches en ligne, en particulier pour la retraite et le logement.",
    "Séjour à la mer pour douze familles, préparé pendant six mois avec elles.",
    "Mise en place d'un comité d'usagers qui se réunit chaque trimestre.",
    "Partenariat renforcé avec le collège pour l'accompagnement à la scolarité.",
    "Difficultés de trésorerie au premier semestre, liées au retard de versement d'une subvention.",
    "Ouverture d'une épicerie solidaire avec le CCAS.",
    "Accueil de deux volontaires en service civique.",
    "Nouveaux ateliers sociolinguistiques en soirée pour les personnes qui travaillent.",
    "Formation des bénévoles d'accueil à l'écoute et à l'orientation.",
    "Ouverture d'un lieu d'accueil enfants-parents deux matinées par semaine.",
    "Année marquée par la hausse des coûts de l'énergie et des salaires (revalorisation de la convention collective).",
    "Le café associatif est désormais animé par un collectif d'habitants.",
]
EVS_FAITS_MARQUANTS = [
    "Recrutement d'une coordinatrice à mi-temps grâce à la prestation de service de la Caf.",
    "Les bénévoles ont repris l'animation du café associatif trois après-midi par semaine.",
    "Installation dans un local prêté par la commune, plus grand et accessible.",
    "Premier séjour collectif organisé avec les familles du village.",
    "Création d'un jardin partagé sur un terrain mis à disposition par la mairie.",
    "Mise en place d'un transport solidaire pour les personnes âgées isolées.",
]
PROJETS_HABITANTS = [
    "Un groupe de mères a organisé une sortie à la mer pour vingt familles, financée par une vente de gâteaux.",
    "Des jeunes ont monté un tournoi de football inter-quartiers avec le club local.",
    "Des habitants ont créé une boîte à livres et animent une lecture mensuelle au pied des immeubles.",
    "Un collectif de locataires a obtenu du bailleur la rénovation de l'aire de jeux.",
    "Des retraités ont lancé un atelier tricot intergénérationnel avec l'école voisine.",
    "Trois habitantes ont créé une association de cuisine du monde, hébergée au centre.",
    "Un groupe d'habitants a organisé une bourse aux vêtements d'enfants deux fois par an.",
]
AXES_AUTRE = [
    "Égalité entre les femmes et les hommes",
    "Mobilité et accès aux transports",
    "Lutte contre les discriminations",
]
PERMANENCES_AUTRE = ["Écrivain public", "Point conseil budget", "Conciliateur de justice", "UDAF", "Aide juridique"]
CONTRATS_AUTRE = ["Cité éducative", "Programme de réussite éducative", "Contrat local de sécurité", "Plan mercredi"]
TRANSITION_BESOINS = [
    "Besoin de formation de l'équipe pour animer des ateliers sur les économies d'énergie.",
    "Manque de financements pour pérenniser le jardin partagé.",
    "Difficulté à mobiliser les habitants au-delà d'un petit groupe déjà convaincu.",
    "Souhait d'échanger avec d'autres structures du réseau sur les épiceries solidaires.",
    "Le local, mal isolé, coûte cher à chauffer : un diagnostic énergétique serait utile.",
]
EVS_FTE_COMMENT = (
    "Deux salariées à temps partiel en cours d'année ; une seule est encore en poste au 31 décembre, d'où plus "
    "d'ETP que de salariés."
)
COMMUNICATION_COMMENT = (
    "Le projet a été présenté oralement au comité de pilotage de la CTG, sans autre support pour l'instant."
)

RETURN_COMMENTS = [
    "Merci de revoir les points signalés, puis de renvoyer le questionnaire.",
    "Quelques chiffres à vérifier : voir les remarques sur les questions.",
    "Pouvez-vous vérifier la rubrique Finances ? Certains montants nous étonnent.",
    "Merci de préciser les points à vérifier avant la validation.",
]
VALIDATION_COMMENTS = [
    "Merci pour ce questionnaire complet.",
    "Validé après échange téléphonique avec la directrice.",
    "Merci pour les précisions apportées.",
    "Validé ; les évolutions sont expliquées.",
]
RESUBMISSION_COMMENTS = ["Corrections faites, merci.", "Nous avons revu les chiffres signalés.", ""]
QUERIES = {
    AnomalyKind.YEARLY_CHANGE: [
        "Ce chiffre a beaucoup changé depuis l'an passé : pouvez-vous le confirmer ou l'expliquer ?",
        "Forte évolution par rapport à l'an dernier : s'agit-il d'un changement d'activité ou de méthode de comptage ?",
    ],
    AnomalyKind.TERRITORY_BOUNDS: [
        "Cette valeur est très éloignée de celles des structures comparables du département : pouvez-vous la "
        "vérifier ?",
        "S'agit-il d'une erreur de saisie ? La valeur est hors des valeurs habituelles du territoire.",
    ],
}
TYPO_QUERY = "Le budget semble comporter un zéro de trop : pouvez-vous vérifier le montant ?"
NATURAL_JUSTIFICATIONS = [
    "Valeur vérifiée avec la structure : elle correspond à son activité réelle.",
    "Structure atypique pour le département (plusieurs lieux d'accueil, territoire étendu).",
    "Confirmé par la structure lors de l'échange téléphonique.",
    "Chiffre exact : la structure porte une action d'ampleur inhabituelle sur ce point.",
]
CODE_JUSTIFICATIONS = {
    "part_qpv": "La structure est implantée dans un quartier prioritaire, contrairement à la plupart des structures "
    "comparables du département.",
    "caf_autres": "Les moyens apportés par la Caf (gestion directe, CLAS, accueil de loisirs) sont comptés ici.",
    "commune_intercommunalite": "La commune finance aussi l'accueil de loisirs et met du personnel à disposition.",
    "etp_mis_a_disposition": "La coordination est assurée par un agent mis à disposition par la commune.",
    "benevoles_ponctuels": "Beaucoup d'habitants sont venus aider pour la fête de quartier et les sorties d'été.",
}

# Real changes a structure may have had in the year (the value is multiplied), with why.
SHOCKS = [
    (
        "benevoles_activite",
        2.3,
        "Nouveau dispositif d'accompagnement à la scolarité : une vingtaine de bénévoles recrutés à la rentrée.",
    ),
    ("benevoles_ponctuels", 3.0, "Forte mobilisation pour la rénovation du jardin partagé et la fête des 50 ans."),
    ("participants_manifestations", 2.6, "Fête des 50 ans de la structure, avec une fréquentation exceptionnelle."),
    (
        "participants_aller_vers",
        2.5,
        "Animations de pied d'immeuble tout l'été avec le bailleur (nouveau partenariat).",
    ),
    ("familles_vacances", 2.8, "Appel à projets vacances de la Caf : trois séjours familles supplémentaires."),
    (
        "formation_heures",
        3.2,
        "Formation collective de toute l'équipe à l'accueil (plan de développement des compétences).",
    ),
    (
        "partenaires_nombre",
        2.2,
        "Nouveau comptage : les écoles et les associations du quartier sont comptées une par une.",
    ),
    ("caf_autres", 0.3, "Fin du financement du CLAS sur fonds locaux ; l'action est reprise par la commune."),
]
TYPO = ("budget_total", 10)  # a zero too many, corrected once the correspondant asks
# Remarks a correspondant makes on a question (the structure then corrects the value by this factor).
REMARKS = [
    (
        "participants_culture",
        0.8,
        "Ce nombre paraît élevé au regard des activités décrites : pouvez-vous le vérifier ?",
    ),
    (
        "participants_familles",
        0.85,
        "Comptez-vous les enfants dans les participants aux actions familles ? Le chiffre semble faible.",
    ),
    (
        "participants_acces_droits",
        0.8,
        "Ce chiffre comprend-il les simples passages à l'accueil ? Seules les "
        "personnes accompagnées sont comptées ici.",
    ),
    ("benevoles_ponctuels", 0.75, "Les bénévoles réguliers sont-ils aussi comptés ici ? Merci de vérifier."),
    ("partenaires_nombre", 0.8, "Les seuls financeurs sans action commune ne sont pas comptés : merci de vérifier."),
]

# The structure's project axes (registry) and what they say of the year's work.
AXIS_CODES = {
    "Favoriser le lien social et les solidarités de voisinage": "lien_social",
    "Soutenir les parents dans leur rôle éducatif": "parentalite",
    "Accompagner l'accès aux droits et lutter contre le non-recours": "acces_droits",
    "Développer le pouvoir d'agir des habitants": "pouvoir_agir",
    "Réduire la fracture numérique": "inclusion_numerique",
    "Accompagner les jeunes vers l'autonomie": "enfance_jeunesse",
    "Rompre l'isolement des personnes âgées": "vieillissement",
    "Encourager l'engagement bénévole": "pouvoir_agir",
    "Favoriser l'accès à la culture et aux loisirs": "culture",
    "Accompagner la scolarité et la réussite éducative": "education",
    "Promouvoir la santé et le bien-être": "sante",
    "Agir pour la transition écologique et une alimentation durable": "transition_ecologique",
    "Favoriser l'insertion sociale et professionnelle": "insertion",
    "Développer les ateliers sociolinguistiques": "insertion",
    "Aller vers les habitants éloignés des institutions": "lien_social",
    "Animer la vie de quartier et les espaces publics": "cadre_vie",
    "Soutenir les initiatives et projets d'habitants": "pouvoir_agir",
    "Faciliter la mobilité des habitants": "cadre_vie",
    "Accueillir les jeunes enfants et leurs parents": "parentalite",
    "Promouvoir l'égalité entre les femmes et les hommes": "autre",
}
AXIS_ACTIONS = {
    "parentalite": "familles",
    "acces_droits": "acces_droits",
    "inclusion_numerique": "numerique",
    "enfance_jeunesse": "jeunesse",
    "vieillissement": "seniors",
    "culture": "culture",
    "education": "enfance",
    "insertion": "insertion",
    "lien_social": "aller_vers",
}
# Share of structures with an action in each domain: (centre social, EVS).
ACTION_SHARES = {
    "enfance": (0.85, 0.45),
    "jeunesse": (0.75, 0.3),
    "familles": (0.92, 0.7),
    "seniors": (0.7, 0.45),
    "numerique": (0.7, 0.35),
    "francais": (0.5, 0.15),
    "acces_droits": (0.8, 0.35),
    "culture": (0.9, 0.75),
    "insertion": (0.45, 0.1),
    "aller_vers": (0.7, 0.4),
}
# Income by funder, as weights of the products: (weight, share of structures funded).
CENTRE_FUNDERS = {
    "caf_prestation_service": (0.16, 1),
    "caf_autres": (0.09, 0.97),
    "etat": (0.08, 0.9),
    "region": (0.02, 0.12),
    "departement": (0.05, 0.85),
    "commune_intercommunalite": (0.25, 0.98),
    "msa": (0.01, 0.07),
    "carsat": (0.012, 0.12),
    "autres_financeurs": (0.06, 0.88),
    "participation_usagers": (0.12, 1),
}
EVS_FUNDERS = {
    "caf_prestation_service": (0.34, 1),
    "caf_autres": (0.05, 0.85),
    "etat": (0.05, 0.15),
    "region": (0.03, 0.06),
    "departement": (0.05, 0.15),
    "commune_intercommunalite": (0.25, 0.9),
    "msa": (0.04, 0.1),
    "carsat": (0.03, 0.08),
    "autres_financeurs": (0.08, 0.82),
    "participation_usagers": (0.17, 1),
}
FUNDER_CODES = list(CENTRE_FUNDERS)
# Choices in the questionnaire's order (answers of multiple choice questions are sorted that way).
AXES_ORDER = [
    *("lien_social", "parentalite", "enfance_jeunesse", "vieillissement", "acces_droits", "inclusion_numerique"),
    *("insertion", "education", "culture", "sante", "pouvoir_agir", "transition_ecologique", "cadre_vie", "autre"),
]
CONTRACT_ORDER = ["ctg", "contrat_de_ville", "clsm", "cls", "pedt", "cej", "autre"]

PERMANENCE_TYPES = [
    ("caf", 5),
    ("cpam", 3),
    ("france_travail", 3),
    ("mission_locale", 4),
    ("pmi", 4),
    ("service_social_departement", 5),
    ("maison_france_services", 2),
    ("bailleur", 3),
    ("association_acces_droits", 4),
    ("autre", 1),
]
PARTNER_PLACES = [
    ("mediatheque", 4),
    ("ecole", 6),
    ("college", 4),
    ("lycee", 1),
    ("bailleur", 3),
    ("maison_quartier", 3),
    ("equipement_sportif", 2),
    ("residence_seniors", 2),
    ("centre_medico_social", 1),
    ("autre", 1),
]
OUTREACH = [("pied_immeuble", 6), ("permanence_mobile", 2), ("porte_a_porte", 3), ("marches", 3), ("evenements", 2)]
COMMUNICATION = [
    ("presentation_instances", 6),
    ("document_diffuse", 4),
    ("site_internet", 3),
    ("comite_partenaires", 2),
    ("rencontres_bilaterales", 4),
]
TRANSITION_TYPES = [
    ("jardin_partage", 6),
    ("reparation_reemploi", 4),
    ("alimentation_durable", 4),
    ("dechets_compost", 3),
    ("energie_logement", 2),
    ("mobilite_douce", 2),
    ("nature_sensibilisation", 4),
    ("autre", 1),
]


# ---------------------------------------------------------------------------------------------
# What the registry says of a structure, and its life from one year to the next


@dataclass(slots=True)
class Facts:
    pk: int
    kind: str
    management: str
    department: str
    area_status: str
    axes: list
    served: int
    federation_id: int | None
    approvals: list = field(default_factory=list)  # (kind, starts, ends)
    editor_id: int | None = None
    number: int | None = None  # 1 = structure A, 2 = structure B

    def project_year(self, year):
        """Start year of the main approval in force in `year` (the project being carried out)."""
        end = datetime.date(year, 12, 31)
        starts = [s for k, s, e in self.approvals if k in MAIN_APPROVAL_KINDS and s <= end and e.year >= year]
        return max(starts).year if starts else None

    def has_family_project(self, year):
        start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
        return any(k == ApprovalKind.FAMILY_PROJECT and s <= end and e >= start for k, s, e in self.approvals)


class Life:
    """A structure's latent state: traits (stable) and levels (drifting a few per cent a year)."""

    __slots__ = ("t", "v", "year")

    def __init__(self, t, v, year):
        self.t, self.v, self.year = t, v, year


def _draw(rng, items):
    codes, weights = zip(*items, strict=True)
    return rng.choices(codes, weights=weights)[0]


def _draw_set(rng, items, low, high):
    """Between `low` and `high` distinct codes, drawn by weight, in the questionnaire's order."""
    count = rng.randint(low, high)
    pool = list(items)
    chosen = set()
    while pool and len(chosen) < count:
        code = _draw(rng, pool)
        chosen.add(code)
        pool = [item for item in pool if item[0] != code]
    return [code for code, _ in items if code in chosen]


def new_life(rng, facts, year):
    """A structure's first year in the observatory: its size and ways, from the registry."""
    centre = facts.kind == CENTRE
    gauss, random = rng.gauss, rng.random

    def spread(sigma, limit=2.2):
        return math.exp(max(-limit, min(limit, gauss(0, 1))) * sigma)

    size = math.exp(max(-1.8, min(2.0, gauss(0, 1))) * (0.42 if centre else 0.36))
    in_area = facts.area_status == PriorityAreaStatus.IN_AREA
    near_area = facts.area_status == PriorityAreaStatus.SERVES_AREA
    association = facts.management == Management.ASSOCIATION
    axes = {AXIS_CODES.get(a, "autre") for a in facts.axes}
    t = {"size": size, "diligence": 0.88 + 0.12 * random()}
    v = {}
    # -- project and governance
    t["diagnostic"] = random() < (0.85 if centre else 0.7)
    v["elaboration"] = (60 if centre else 25) * size**0.5 * spread(0.35)
    v["evaluation"] = (22 if centre else 10) * spread(0.35)
    extra = [c for c in AXES_ORDER if c not in axes and c != "autre"]
    t["axes"] = sorted(axes | set(rng.sample(extra, rng.randint(0, 2))), key=AXES_ORDER.index)[:6]
    t["axes_autre"] = rng.choice(AXES_AUTRE)
    if association:
        t["board"] = True
    else:
        t["board"] = random() < {Management.LOCAL_AUTHORITY: 0.4, Management.CAF: 0.6}.get(facts.management, 0.8)
    v["ca"] = (15 if centre else 8) * spread(0.25)
    t["ca_residents"] = 0.55 + 0.3 * random()
    v["ca_young"] = (1.5 if centre else 0.8) * spread(0.5)
    t["committee"] = random() < (0.55 if centre else 0.4)
    v["committee"] = (12 if centre else 8) * spread(0.35)
    v["vol_act"] = (28 if centre else 15) * size ** (0.4 if centre else 0.3) * spread(0.3)
    v["vol_gov"] = v["ca"] * (1.15 + 0.25 * random()) if t["board"] else (6 if centre else 4) * spread(0.3)
    v["vol_ponct"] = (30 if centre else 14) * size**0.3 * spread(0.4)
    t["hours_act"] = 60 + 50 * random()
    t["hours_gov"] = 35 + 40 * random()
    t["valorised"] = random() < (0.45 if centre else 0.25)
    v["projects"] = (6 if centre else 3) * size**0.3 * spread(0.4)
    t["fund"] = random() < (0.55 if in_area else 0.3 if centre else 0.2)
    # -- public
    v["public"] = (2300 if centre else 380) * size**0.8 * spread(0.2)
    base = (0.24, 0.2, 0.38, 0.18) if centre else (0.2, 0.12, 0.4, 0.28)
    t["ages"] = [share * spread(0.2) for share in base]
    t["women"] = 0.55 + 0.11 * random()
    v["families"] = 0.32 + 0.13 * random()
    t["membership"] = random() < (0.85 if centre else 0.7)
    v["members"] = 0.35 + 0.35 * random()
    v["individuals"] = 0.08 + 0.12 * random()
    if in_area:
        v["qpv"] = 55 + 37 * random()
    elif near_area:
        v["qpv"] = 20 + 30 * random()
    else:
        v["qpv"] = 0 if random() < 0.8 else 1 + 3 * random()
    v["events"] = 0.8 + 1.7 * random()
    t["opening"] = (32 + 16 * random()) if centre else (8 + 22 * random())
    # -- actions
    shares = {d: s[0 if centre else 1] for d, s in ACTION_SHARES.items()}
    for code, domain in AXIS_ACTIONS.items():
        if code in axes:
            shares[domain] = max(shares[domain], 0.97)
    if in_area:
        shares["francais"] = max(shares["francais"], 0.7)
    t["actions"] = {domain: random() < share for domain, share in shares.items()}
    t["alsh"] = random() < (0.6 if centre else 0.1)
    t["laep"] = random() < (0.2 if centre else 0.05)
    t["digital_advisor"] = random() < (0.4 if centre else 0.15)
    t["clas"] = random() < (0.7 if centre else 0.2)
    v["r_children"] = 0.6 + 0.35 * random()
    v["r_youth"] = 0.5 + 0.4 * random()
    v["r_families"] = 0.15 + 0.2 * random()
    v["r_seniors"] = 0.4 + 0.4 * random()
    v["r_culture"] = 0.25 + 0.25 * random()
    v["clas"] = (38 if centre else 12) * spread(0.3)
    v["holidays"] = (18 if centre else 5) * spread(0.4)
    v["digital"] = (130 if centre else 28) * size**0.5 * spread(0.35)
    v["french"] = (45 if centre else 14) * spread(0.35)
    v["rights"] = (280 if centre else 45) * size**0.5 * spread(0.35)
    v["insertion"] = (40 if centre else 9) * spread(0.35)
    v["outreach"] = (600 if centre else 130) * size**0.5 * spread(0.45)
    t["outreach_ways"] = _draw_set(rng, OUTREACH, 1, 3)
    # -- partnerships
    v["partners"] = (25 if centre else 10) * size**0.4 * spread(0.3)
    v["conventions"] = (7 if centre else 2.5) * spread(0.35)
    t["permanences"] = random() < (0.8 if centre else 0.35)
    t["permanence_types"] = _draw_set(rng, PERMANENCE_TYPES, 1, 4 if centre else 2)
    t["permanence_extra"] = rng.choice([0, 0, 1, 2])
    t["permanences_autre"] = rng.choice(PERMANENCES_AUTRE)
    t["outside"] = random() < (0.85 if centre else 0.55)
    t["outside_places"] = _draw_set(rng, PARTNER_PLACES, 1, 4 if centre else 2)
    v["outside"] = (7 if centre else 2) * spread(0.35)
    t["contracts"] = random() < (0.92 if centre else 0.6)
    contracts = {"ctg"} if random() < 0.85 else set()
    if (in_area or near_area) and random() < 0.9:
        contracts.add("contrat_de_ville")
    for code, share in (("pedt", 0.4), ("cls", 0.2), ("clsm", 0.1), ("cej", 0.1), ("autre", 0.05)):
        if random() < share:
            contracts.add(code)
    t["contract_codes"] = [c for c in CONTRACT_ORDER if c in contracts] or ["ctg"]
    t["contrats_autre"] = rng.choice(CONTRATS_AUTRE)
    t["communication"] = ["aucune"] if random() < 0.04 else _draw_set(rng, COMMUNICATION, 1, 3)
    t["network"] = random() < (0.7 if centre else 0.5)
    # -- staff
    if centre:
        v["staff"] = 30.5 * size**0.9 * spread(0.12)
        v["fte"] = 0.53 * spread(0.08)
        t["p_cdi"] = 0.45 + 0.25 * random()
        t["p_cdd"] = 0.12 + 0.18 * random()
        if facts.management == Management.LOCAL_AUTHORITY:
            v["seconded"] = 0.5 + 2.5 * random()
        elif facts.management == Management.CAF:
            v["seconded"] = 1 + 1.5 * random()
        else:
            v["seconded"] = 0 if random() < 0.4 else 0.2 + 1.3 * random()
        t["director"] = random() < 0.95
        t["qualification"] = _draw(
            rng, [("niveau_7", 25), ("niveau_6", 50), ("niveau_5", 15), ("en_formation", 7), ("autre", 3)]
        )
        t["family_worker"] = random()
        t["family_fte"] = 0.5 + 0.5 * random()
    else:
        t["staff"] = rng.choices([0, 1, 2, 3], weights=[30, 35, 22, 13])[0]
        t["contract_kinds"] = rng.choices(["cdi", "cdd", "autres"], weights=[50, 20, 30], k=4)
        t["times"] = [0.3 + 0.7 * random() for _ in range(4)]
        t["coordination"] = random()
        t["fte_over"] = t["staff"] >= 1 and random() < 0.08
        v["seconded"] = 0.3 + 0.5 * random()
    t["agreement"] = random()
    v["training"] = (14 if centre else 12) * spread(0.35)
    v["trained"] = 0.25 + 0.45 * random()
    # -- finances
    v["budget"] = (540_000 if centre else 60_000) * size * spread(0.1)
    funders = dict(CENTRE_FUNDERS if centre else EVS_FUNDERS)
    if centre and facts.management == Management.LOCAL_AUTHORITY:
        funders["commune_intercommunalite"] = (0.42, 1)
        funders["participation_usagers"] = (0.08, 1)
    elif centre and facts.management == Management.CAF:
        funders["caf_autres"] = (0.3, 1)
        funders["commune_intercommunalite"] = (0.12, 0.9)
    if centre and in_area:
        funders["etat"] = (0.12, 0.97)
    elif centre and not near_area:
        funders["etat"] = (0.035, 0.9)
    weights = {}
    for code, (weight, share) in funders.items():
        weights[code] = weight * spread(0.15) if random() < share else 0
    t["weights"] = weights
    t["other_products"] = 0.01 + 0.04 * random()
    t["payroll"] = (0.62 + 0.12 * random()) if centre else (0.35 + 0.25 * random())
    t["result_sign"] = 1 if random() < 0.7 else -1
    v["result"] = 0.004 + 0.025 * random()
    v["equity"] = v["budget"] * (0.05 + 0.4 * random()) * (1 if random() < 0.95 else -0.3)
    t["calendar"] = random() < 0.92
    # -- theme of the year
    t["transition"] = random() < (0.65 if centre else 0.55)
    t["transition_types"] = _draw_set(rng, TRANSITION_TYPES, 1, 3)
    v["transition"] = 0.03 + 0.12 * random()
    t["residents_led"] = random() < 0.5
    t["project_year"] = facts.project_year(year)
    return Life(t, v, year)


def next_year(rng, life, year):
    """The structure one year on (or more, after a year without a submission): levels drift, some habits change."""
    gauss, random = rng.gauss, rng.random
    for _ in range(year - life.year):
        v = life.v
        for key in v:
            v[key] *= math.exp(gauss(0, 0.05))
        t = life.t
        t["ages"] = [share * math.exp(gauss(0, 0.04)) for share in t["ages"]]
        t["weights"] = {code: weight * math.exp(gauss(0, 0.04)) for code, weight in t["weights"].items()}
        if random() < 0.04:
            t["committee"] = not t["committee"]
        if random() < 0.05:
            t["outside"] = not t["outside"]
        if random() < 0.03:
            t["transition"] = not t["transition"]
        if "staff" in t and random() < 0.03:
            t["staff"] = max(0, min(3, t["staff"] + rng.choice([-1, 1])))
    life.year = year


def _round(x):
    return int(math.floor(x + 0.5))


def _split(total, shares):
    """Integers proportional to `shares` that sum to `total` (largest remainders)."""
    whole = sum(shares)
    exact = [total * s / whole for s in shares]
    parts = [math.floor(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def render(rng, life, facts, year):
    """({question code: typed value}, {code: comment}) of the structure's questionnaire for `year`:
    only the questions put to it (its kind, `shown_if`), every cross-question error rule holding."""
    centre = facts.kind == CENTRE
    t, v = life.t, life.v
    random = rng.random
    diligence = t["diligence"]

    def optional():
        return random() < diligence

    a = {}
    comments = {}
    # -- projet social
    project_year = facts.project_year(year)
    if project_year and project_year != t["project_year"]:
        t["project_year"] = project_year
        v["elaboration"] *= math.exp(max(-0.35, min(0.35, rng.gauss(0, 0.2))))
    if project_year:
        a["projet_social_annee"] = max(1990, project_year)
    a["diagnostic_partage"] = t["diagnostic"]
    if optional():
        a["habitants_elaboration"] = _round(v["elaboration"])
    evaluation = random() < (0.45 if centre else 0.35)
    a["evaluation_annuelle"] = evaluation
    if evaluation and optional():
        a["habitants_evaluation"] = _round(v["evaluation"])
    a["axes_travailles"] = t["axes"]
    if "autre" in t["axes"]:
        a["axes_autre"] = t["axes_autre"]
    if random() < 0.85:
        facts_pool = FAITS_MARQUANTS if centre else EVS_FAITS_MARQUANTS + FAITS_MARQUANTS[:8]
        a["faits_marquants"] = " ".join(rng.sample(facts_pool, rng.randint(1, 3)))
    # -- gouvernance
    board = t["board"]
    a["conseil_administration"] = board
    if board:
        members = max(3, _round(v["ca"]))
        a["ca_membres"] = members
        a["ca_habitants"] = min(members, _round(members * t["ca_residents"]))
        if optional():
            a["ca_moins_30"] = min(members, _round(v["ca_young"]))
    a["comite_habitants"] = t["committee"]
    if t["committee"]:
        a["comite_habitants_nombre"] = max(1, _round(v["committee"]))
    volunteers = _round(v["vol_act"])
    governance = max(_round(v["vol_gov"]), a.get("ca_habitants", 0))
    occasional = _round(v["vol_ponct"])
    a["benevoles_activite"] = volunteers
    a["benevoles_gouvernance"] = governance
    a["benevoles_ponctuels"] = occasional
    hours = _round(volunteers * t["hours_act"] + governance * t["hours_gov"] + occasional * 8)
    if optional():
        a["benevoles_heures"] = hours
    a["benevolat_valorise"] = t["valorised"]
    if optional():
        projects = _round(v["projects"])
        a["projets_habitants"] = projects
        if projects > 0 and random() < 0.6:
            a["projets_habitants_exemples"] = rng.choice(PROJETS_HABITANTS)
    a["fonds_initiatives_habitants"] = t["fund"]
    # -- publics
    total = max(40, _round(v["public"]))
    a["personnes_touchees_total"] = total
    ages = _split(total, t["ages"])
    a["personnes_0_10"], a["personnes_11_25"], a["personnes_26_59"], a["personnes_60_plus"] = ages
    a["personnes_femmes"] = _round(total * t["women"])
    families = _round(total * min(0.9, v["families"]))
    a["familles_touchees"] = families
    a["adhesion"] = t["membership"]
    if t["membership"]:
        if optional():
            a["familles_adherentes"] = _round(families * min(0.95, v["members"]))
        if optional():
            a["adherents_individuels"] = _round(total * min(0.9, v["individuals"]))
    a["part_qpv"] = min(100, _round(v["qpv"]))
    if optional():
        a["participants_manifestations"] = _round(total * v["events"])
    a["accueil_heures_semaine"] = D(f"{min(84, _round(t['opening'] * 2) / 2):.1f}")
    # -- actions
    acts = t["actions"]

    def participants(domain, code, value, high=50000):
        a[f"action_{domain}"] = acts[domain]
        if acts[domain] and optional():
            a[code] = min(total, high, max(1, _round(value)))

    participants("enfance", "participants_enfance", ages[0] * min(1, v["r_children"]))
    if acts["enfance"]:
        a["alsh"] = t["alsh"]
    participants("jeunesse", "participants_jeunesse", ages[1] * min(1, v["r_youth"]))
    if acts["enfance"] or acts["jeunesse"]:
        a["clas_participants"] = min(total, 2000, _round(v["clas"])) if t["clas"] else 0
    participants("familles", "participants_familles", total * v["r_families"])
    if acts["familles"]:
        a["laep"] = t["laep"]
        if optional():
            a["familles_vacances"] = _round(v["holidays"])
    participants("seniors", "participants_seniors", ages[3] * min(1, v["r_seniors"]))
    participants("numerique", "participants_numerique", v["digital"])
    if acts["numerique"]:
        a["conseiller_numerique"] = t["digital_advisor"]
    participants("francais", "participants_francais", v["french"], high=10000)
    participants("acces_droits", "participants_acces_droits", v["rights"])
    participants("culture", "participants_culture", total * v["r_culture"])
    participants("insertion", "participants_insertion", v["insertion"], high=10000)
    a["action_aller_vers"] = acts["aller_vers"]
    if acts["aller_vers"]:
        if optional():
            a["participants_aller_vers"] = _round(v["outreach"])
        a["aller_vers_formes"] = t["outreach_ways"]
    # -- partenariats
    if optional():
        a["partenaires_nombre"] = _round(v["partners"])
    if optional():
        a["conventions_partenariat"] = _round(v["conventions"])
    a["permanences_partenaires"] = t["permanences"]
    if t["permanences"]:
        types = t["permanence_types"]
        a["permanences_types"] = types
        if "autre" in types:
            a["permanences_autre"] = t["permanences_autre"]
        a["permanences_nombre"] = len(types) + t["permanence_extra"]
    a["hors_murs_partenaires"] = t["outside"]
    if t["outside"]:
        a["hors_murs_lieux"] = t["outside_places"]
        a["hors_murs_nombre"] = max(len(t["outside_places"]), _round(v["outside"]))
    a["contrats_locaux_participation"] = t["contracts"]
    if t["contracts"]:
        a["contrats_locaux"] = t["contract_codes"]
        if "autre" in t["contract_codes"]:
            a["contrats_autre"] = t["contrats_autre"]
    communication = t["communication"]
    presented = random() < (0.75 if centre else 0.55)
    if communication == ["aucune"] and presented:
        comments["communication_projet"] = COMMUNICATION_COMMENT  # a warning, justified
    a["projet_presente_partenaires"] = presented
    a["communication_projet"] = communication
    a["coordination_territoriale"] = t["network"]
    # -- ressources humaines
    if centre:
        staff = max(4, _round(v["staff"]))
        cdi = _round(staff * t["p_cdi"])
        cdd = min(staff - cdi, _round(staff * t["p_cdd"]))
        fte = D(f"{staff * min(0.9, v['fte']):.2f}")
        seconded = D(f"{v['seconded']:.1f}") if v["seconded"] >= 0.05 else D(0)
    else:
        staff = t["staff"]
        kinds = t["contract_kinds"][:staff]
        cdi, cdd = kinds.count("cdi"), kinds.count("cdd")
        fte = D(f"{sum(t['times'][:staff]):.2f}")
        if t["fte_over"]:
            fte += D("0.35")
            comments["etp_total"] = EVS_FTE_COMMENT  # a warning, justified
        coordination = t["coordination"]
        if staff:
            coordination = "salarie" if coordination < 0.9 else "mis_a_disposition"
        else:
            coordination = "mis_a_disposition" if coordination < 0.3 else "benevole"
        seconded = D(f"{v['seconded']:.1f}") if coordination == "mis_a_disposition" else D(0)
    a["salaries_total"] = staff
    a["salaries_cdi"] = cdi
    a["salaries_cdd"] = cdd
    a["salaries_autres"] = staff - cdi - cdd
    a["etp_total"] = fte
    a["etp_mis_a_disposition"] = seconded
    if centre:
        a["directeur_present"] = t["director"]
        if t["director"] and random() < 0.95:
            a["directeur_qualification"] = t["qualification"]
        family_worker = t["family_worker"] < (0.95 if facts.has_family_project(year) else 0.08)
        a["referent_familles"] = family_worker
        if family_worker:
            a["referent_familles_etp"] = D(f"{t['family_fte']:.2f}")
    else:
        a["coordination_evs"] = coordination
    if random() < 0.95:
        if facts.management == Management.LOCAL_AUTHORITY:
            agreement = "fonction_publique"
        elif staff == 0:
            agreement = "aucune"
        elif facts.management == Management.CAF:
            agreement = "autre"
        else:
            agreement = "alisfa" if t["agreement"] < 0.8 else "eclat" if t["agreement"] < 0.9 else "autre"
        a["convention_collective"] = agreement
    if staff and optional():
        a["formation_heures"] = _round(staff * v["training"])
    if staff and optional():
        a["salaries_formes"] = min(staff, _round(staff * min(0.95, v["trained"])))
    if optional():
        a["difficultes_recrutement"] = random() < 0.45
    # -- finances
    a["exercice_calendaire"] = t["calendar"]
    budget = _round(v["budget"])
    a["budget_total"] = budget
    result = _round(budget * min(0.12, v["result"]) * t["result_sign"])
    products = budget * (1 - t["other_products"]) + result
    weights = t["weights"]
    whole = sum(weights.values())
    for code in FUNDER_CODES:
        a[code] = _round(products * weights[code] / whole)
    if optional():
        a["charges_personnel"] = _round(budget * t["payroll"]) if staff else 0
    if t["valorised"] and optional():
        a["contributions_volontaires"] = _round(hours * 13 + budget * 0.03)
    a["resultat_exercice"] = result
    if optional():
        a["fonds_propres"] = _round(v["equity"])
    # -- thème de l'année
    a["transition_actions"] = t["transition"]
    if t["transition"]:
        if optional():
            a["transition_types"] = t["transition_types"]
        if optional():
            a["transition_participants"] = min(total, _round(total * v["transition"]))
        if optional():
            a["transition_portees_habitants"] = t["residents_led"]
    if optional():
        a["transition_demarche_interne"] = random() < 0.4
    if random() < 0.5:
        a["transition_besoins"] = rng.choice(TRANSITION_BESOINS)
    return a, comments


# ---------------------------------------------------------------------------------------------
# The detector, replayed in memory


def detect(questions, threshold, numbers, references, own, before, safe=None):
    """{(code, kind): (detail, value)}: what `actions.find_anomalies` finds for a submission whose
    numeric answers are `numbers` ({code: Decimal}). `references`: {code: sorted numbers} of the
    structures of its kind and département (this year submitted or validated, last year validated),
    `own` its own numbers among them (left out), `before` last year's validated numbers.
    `safe`: {code: [(low, high) for 0, 1, 2 own values left out]} (see _safe_fences), to skip the
    exact computation for a value clearly within the fences (most of them)."""
    found = {}
    for code, value in numbers.items():
        question = questions[code]
        others = references.get(code)
        dropped = own.get(code, ())
        if others is not None and len(others) - len(dropped) >= actions.MIN_REFERENCE_VALUES:
            bounds = safe.get(code) if safe is not None else None
            if bounds is not None and len(dropped) < len(bounds) and bounds[len(dropped)] is not None:
                low, high = bounds[len(dropped)]
                if low < float(value) < high:
                    others = None  # clearly within the fences: nothing to report
        if others is not None and len(others) - len(dropped) >= actions.MIN_REFERENCE_VALUES:
            q1, q3, count = _quartiles_without(others, dropped)
            spread = q3 - q1
            low, high = q1 - actions.FENCE * spread, q3 + actions.FENCE * spread
            if spread > 0 and not low <= value <= high:
                found[(code, AnomalyKind.TERRITORY_BOUNDS)] = (
                    actions.bounds_detail(question, value, low, high, count),
                    value,
                )
        last = before.get(code)
        if last is not None and max(abs(last), abs(value)) >= actions.SMALL_VALUE:
            limit = question.change_threshold or threshold
            change = (value - last) / abs(last) if last else None
            if change is None or abs(change) > limit:
                found[(code, AnomalyKind.YEARLY_CHANGE)] = (actions.change_detail(question, last, value, change), value)
    return found


QUARTER, THREE_QUARTERS = D("0.25"), D("0.75")


def _safe_fences(values, dropped):
    """(low, high) between which a value is within the detector's fences whichever `dropped` values
    are left out of the sorted `values` (floats): each order statistic of what remains lies between
    the same one of `values` and the one `dropped` places further, which bounds the quartiles, hence
    the fences (Q1 − 3 IQR ≤ 4·Q1max − 3·Q3min, Q3 + 3 IQR ≥ 4·Q3min − 3·Q1max). None when too few."""
    size = len(values) - dropped
    if size < actions.MIN_REFERENCE_VALUES:
        return None
    fence = float(actions.FENCE)

    def window(fraction):
        low = int(fraction * (size - 1))
        return values[low], values[min(low + 1, size - 1) + dropped]

    q1_low, q1_high = window(0.25)
    q3_low, q3_high = window(0.75)
    margin = 1e-6 * (abs(q1_high) + abs(q3_low) + 1)  # float rounding, far below a cent
    low, high = q1_high + fence * (q1_high - q3_low) + margin, q3_low + fence * (q3_low - q1_high) - margin
    return (low, high) if low < high else None


def _quartiles_without(values, dropped):
    """(Q1, Q3, count) of the sorted `values` less the `dropped` ones, interpolated as the detector
    does (actions._quartiles), without copying the list: positions are shifted over the dropped ones."""
    skipped = []
    for value in sorted(dropped):
        position = bisect_left(values, value)
        while position in skipped:
            position += 1
        skipped.append(position)
    skipped.sort()
    last = len(values) - len(skipped) - 1

    def get(index):
        for position in skipped:
            if position <= index:
                index += 1
        return values[index]

    def at(fraction):
        position = fraction * last
        low = int(position)
        high = min(low + 1, last)
        below = get(low)
        return below + (get(high) - below) * D(position - low)

    return at(QUARTER), at(THREE_QUARTERS), last + 1


# ---------------------------------------------------------------------------------------------
# Bulk writing


@contextmanager
def bulk_load(models):
    """PostgreSQL: load `models` without their foreign keys and secondary indexes, then rebuild them
    (one sort per index, one join per key), the usual way of loading millions of rows. Checking and
    indexing row by row take most of the time otherwise (and deferred checks, the commit). The
    definitions are read from the catalogue and put back as they were, names included."""
    if connection.vendor != "postgresql":
        yield
        return
    quote = connection.ops.quote_name
    saved = []
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks: tables may then be altered
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for model in models:
            table = quote(model._meta.db_table)
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                "AND contype = 'f' ORDER BY conname",
                [table],
            )
            keys = cursor.fetchall()
            cursor.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) ORDER BY i.relname",
                [table],
            )
            indexes = cursor.fetchall()
            for name, _ in keys:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {quote(name)}")
            saved.append((table, keys, indexes))
    yield
    with connection.cursor() as cursor:
        for table, keys, indexes in saved:
            for _, definition in indexes:
                cursor.execute(definition)
            for name, definition in keys:
                cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's keys are initially deferred


# ---------------------------------------------------------------------------------------------
# Campaigns


@dataclass(slots=True)
class Entry:
    """One submission being planned: the structure, its answers and its story."""

    facts: Facts
    values: dict
    comments: dict
    status: str = S.NOT_STARTED
    steps: list = field(default_factory=list)  # [(to status, at, actor role, comment)]
    numbers: dict = field(default_factory=dict)  # final numeric answers, as Decimal
    original: dict = field(default_factory=dict)  # {code: value} as first sent, for answers corrected since
    shock: tuple | None = None  # (code, justification) of a real change of the year
    remark: tuple | None = None  # (code, text, value seen) of a correspondant's remark
    typo: bool = False
    pk: int | None = None
    reviewer: int | None = None
    last_year: dict | None = None  # last year's validated numbers
    times: list = field(default_factory=list)  # when each section was filled
    corrected_at: datetime.datetime | None = None  # when the answers in `original` were corrected

    @property
    def updated_at(self):
        return max([*(at for _, at, _, _ in self.steps), *self.times, self.corrected_at or self.steps[0][1]])

    def at(self, status):
        """When the submission last reached `status`."""
        moments = [at for to, at, _, _ in self.steps if to == status]
        return moments[-1] if moments else None


class ObservatoryBuilder:
    """Campaigns of the last `years` years (the last one open), for the structures in the database."""

    def __init__(self, rng, today, *, years=2, admin=None, every_structure=False):
        self.rng = rng
        self.today = today
        self.years = list(range(today.year - years, today.year))
        # Benchmarks: every open structure answers every year, as in a real observatory (the demo's
        # approval history only goes back a few years, so that observed_in() thins out the early ones).
        self.every_structure = every_structure
        self.admin_id = admin.pk if admin is not None else None
        self.counts = Counter()
        self.anomaly_counts = Counter()
        self.state_counts = {}

    # -- entry point --------------------------------------------------------------------------

    def build(self):
        started = time.monotonic()
        if Campaign.objects.filter(year__in=self.years).exists():
            return {"skipped": True, "seconds": 0}
        questionnaire = ensure_questionnaire()
        self.questionnaire = questionnaire
        self.questions = {q.code: q for q in questionnaire.questions.select_related("section")}
        self.numeric = {code for code, q in self.questions.items() if q.kind in NUMERIC_KINDS}
        sections = sorted({q.section for q in self.questions.values()}, key=lambda s: s.position)
        self.section_codes = [s.code for s in sections]
        facts = self.load_facts()
        big = len(facts) * len(self.years) >= BULK_LOAD_SUBMISSIONS
        with bulk_load([Answer, SubmissionEvent, Anomaly]) if big else nullcontext():
            self.build_years(facts)
        self.counts["seconds"] = time.monotonic() - started
        return {
            "campaigns": len(self.years),
            "submissions": self.counts["submissions"],
            "answers": self.counts["answers"],
            "events": self.counts["events"],
            "anomalies": self.counts["anomalies"],
            "states": self.state_counts,
            "anomaly_states": dict(self.anomaly_counts),
            "seconds": self.counts["seconds"],
        }

    def build_years(self, facts):
        lives = {}
        previous = {}
        for year in self.years:
            current = year == self.years[-1]
            campaign = self.create_campaign(year, current)
            structures = Structure.objects.filter(closed_on__isnull=True)
            if not self.every_structure:
                structures = structures.observed_in(year)  # as open_campaign() does
            observed = set(structures.values_list("pk", flat=True))
            entries = []
            for item in facts:
                if item.pk not in observed:
                    continue
                life = lives.get(item.pk)
                if life is None:
                    life = lives[item.pk] = new_life(self.rng, item, year)
                else:
                    next_year(self.rng, life, year)
                values, comments = render(self.rng, life, item, year)
                self.clamp(values)
                entries.append(Entry(item, values, comments))
            for entry in entries:
                last = previous.get(entry.facts.pk)
                entry.last_year = last.numbers if last is not None else None
            self.tell_stories(campaign, entries, current)
            self.write(campaign, entries, previous)
            previous = {e.facts.pk: e for e in entries}
            self.state_counts[year] = Counter(e.status for e in entries)

    # -- reading the registry -----------------------------------------------------------------

    def load_facts(self):
        rows = Structure.objects.order_by("pk").values_list(
            "pk",
            "kind",
            "management",
            "commune__department_id",
            "priority_area_status",
            "project_axes",
            "served_population",
            "federation_id",
        )
        facts = {row[0]: Facts(*row) for row in rows}
        for structure_id, kind, starts, ends in Approval.objects.order_by("pk").values_list(
            "structure_id", "kind", "starts", "ends"
        ):
            facts[structure_id].approvals.append((kind, starts, ends))
        numbers = {cast.STRUCTURE_A: 1, cast.STRUCTURE_B: 2}
        editors = Membership.objects.filter(
            structure__isnull=False, role__in=WRITE_ROLES, user__is_active=True
        ).order_by("pk")
        for structure_id, user_id, email in editors.values_list("structure_id", "user_id", "user__email"):
            item = facts[structure_id]
            if item.editor_id is None:
                item.editor_id = user_id
            item.number = item.number or numbers.get(email)
        return list(facts.values())

    def clamp(self, values):
        questions = self.questions
        for code in list(values):
            question = questions.get(code)
            if question is None:
                del values[code]  # not in this version of the questionnaire
            elif code in self.numeric:
                value = values[code]
                if question.max_value is not None and value > question.max_value:
                    values[code] = type(value)(question.max_value)
                elif question.min_value is not None and value < question.min_value:
                    values[code] = type(value)(question.min_value)
            elif isinstance(values[code], list):
                values[code] = sorted(values[code])  # as Question.parse returns them

    # -- campaigns and stories ----------------------------------------------------------------

    def create_campaign(self, year, current):
        """The campaign observing `year`: the current one opened a month ago and closes in two; the
        others a year apart, closed."""
        back = (self.years[-1] - year) * 12
        opens_on = add_months(self.today - datetime.timedelta(days=30), -back)
        closes_on = add_months(add_months(self.today, 2), -back)
        opened_at = self.moment(opens_on, 9 * 3600)
        campaign = Campaign.objects.create(
            year=year,
            title=f"Observatoire {year}",
            questionnaire=self.questionnaire,
            opens_on=opens_on,
            closes_on=closes_on,
            opened_at=opened_at,
        )
        Campaign.objects.filter(pk=campaign.pk).update(created_at=opened_at - datetime.timedelta(days=12))
        campaign.window = (opened_at, self.moment(self.today - datetime.timedelta(days=1), 19 * 3600))
        if not current:
            campaign.window = (opened_at, self.moment(closes_on + datetime.timedelta(days=25), 18 * 3600))
        return campaign

    def moment(self, day, seconds):
        naive = datetime.datetime.combine(day, datetime.time()) + datetime.timedelta(seconds=seconds)
        return timezone.make_aware(naive)

    def moments(self, window, count):
        """`count` increasing working-hour moments within `window`."""
        start, end = window
        days = max(1, (end.date() - start.date()).days)
        found = []
        for _ in range(count):
            day = start.date() + datetime.timedelta(days=self.rng.randrange(days + 1))
            found.append(self.moment(day, self.rng.randrange(8 * 3600 + 1800, 19 * 3600)))
        found.sort()
        return [max(start, min(end, m)) for m in found]

    def tell_stories(self, campaign, entries, current):
        rng = self.rng
        for entry in entries:
            entry.status = S.VALIDATED
        if current:
            self.spread_states(entries)
        for entry in entries:
            status = entry.status
            returned = status in {S.RETURNED, S.RESUBMITTED} or (
                status == S.VALIDATED
                and rng.random() < (CURRENT_VALIDATED_RETURNED_SHARE if current else PAST_RETURNED_SHARE)
            )
            path = {
                S.NOT_STARTED: [],
                S.DRAFT: [S.DRAFT],
                S.SUBMITTED: [S.DRAFT, S.SUBMITTED],
                S.RETURNED: [S.DRAFT, S.SUBMITTED, S.RETURNED],
                S.RESUBMITTED: [S.DRAFT, S.SUBMITTED, S.RETURNED, S.RESUBMITTED],
                S.VALIDATED: [S.DRAFT, S.SUBMITTED, *([S.RETURNED, S.RESUBMITTED] if returned else []), S.VALIDATED],
            }[status]
            times = self.moments(campaign.window, len(path))
            for to, at in zip(path, times, strict=True):
                if to == S.RETURNED:
                    role, comment = "reviewer", rng.choice(RETURN_COMMENTS)
                elif to == S.VALIDATED:
                    role, comment = "reviewer", rng.choice(VALIDATION_COMMENTS) if rng.random() < 0.3 else ""
                elif to == S.RESUBMITTED:
                    role, comment = "structure", rng.choice(RESUBMISSION_COMMENTS)
                else:
                    role, comment = "structure", ""
                entry.steps.append((to, at, role, comment))
            if status == S.DRAFT:
                self.truncate(entry)
            elif status == S.NOT_STARTED:
                entry.values, entry.comments = {}, {}
            if current and status in DETECTED_STATUSES:
                self.add_surprises(entry, returned)
            elif returned:
                self.add_remark(entry)
            entry.numbers = self.numbers_of(entry.values)
            if entry.values:
                self.time_answers(entry)

    def time_answers(self, entry):
        """Sections filled one after the other between the first answer and the sending (or yesterday,
        for a draft); corrections between the return and the second sending."""
        rng = self.rng
        first = entry.steps[0][1]
        if entry.status == S.DRAFT:
            until = max(first, self.moment(self.today - datetime.timedelta(days=1), 18 * 3600))
        else:
            until = entry.at(S.SUBMITTED)
        span = (until - first).total_seconds()
        entry.times = sorted(first + datetime.timedelta(seconds=rng.uniform(0, span)) for _ in self.section_codes)
        entry.times[0] = first
        if entry.original:
            returned, resent = entry.at(S.RETURNED), entry.at(S.RESUBMITTED)
            entry.corrected_at = returned + (resent - returned) * rng.uniform(0.2, 0.9)

    def spread_states(self, entries):
        """Every state in each département, the cast's structures where the browser journeys expect them."""
        rng = self.rng
        by_department = defaultdict(list)
        for entry in entries:
            number = entry.facts.number
            if number == 1:
                entry.status = S.DRAFT  # structure A fills its questionnaire in the browser journey
            elif number == 2:
                entry.status = S.SUBMITTED  # structure B has sent it, for its correspondants to review
            else:
                by_department[entry.facts.department].append(entry)
        for department in sorted(by_department):
            group = by_department[department]
            rng.shuffle(group)
            weights = dict(CURRENT_STATES)
            counts = _largest_remainder(weights, len(group))
            position = 0
            for status, _ in CURRENT_STATES:
                for entry in group[position : position + counts[status]]:
                    entry.status = status
                position += counts[status]

    def truncate(self, entry):
        """A draft: the first sections filled (three for structure A), the rest still empty."""
        filled = 3 if entry.facts.number == 1 else self.rng.randint(1, len(self.section_codes) - 1)
        kept = set(self.section_codes[:filled])
        questions = self.questions
        entry.values = {c: v for c, v in entry.values.items() if questions[c].section.code in kept}
        entry.comments = {c: v for c, v in entry.comments.items() if c in entry.values}

    def add_surprises(self, entry, returned):
        """The current campaign's anomalies: real changes of the year (justified), a zero too many in
        the budget (corrected when returned), a correspondant's remark (then corrected)."""
        rng = self.rng
        values, last = entry.values, entry.last_year or {}
        status = entry.status
        if entry.facts.number == 2:
            return  # structure B: nothing to review but its answers
        roll = rng.random()
        wants_typo = (status == S.RETURNED and roll < 0.3) or (returned and status != S.RETURNED and roll < 0.35)
        if wants_typo and "budget_total" in values:
            code, factor = TYPO
            if status == S.RETURNED:
                values[code] = values[code] * factor  # as sent: the correspondant asks about it
            else:
                entry.original[code] = values[code] * factor  # corrected since
            entry.typo = True
        elif status == S.RETURNED or (returned and roll < 0.9) or rng.random() < 0.4:
            candidates = [s for s in SHOCKS if s[0] in values and last.get(s[0], 0) >= 10]
            if candidates:
                code, factor, why = rng.choice(candidates)
                value = values[code]
                values[code] = type(value)(_round(float(value) * factor))
                entry.shock = (code, why)
        if returned:
            self.add_remark(entry)

    def add_remark(self, entry):
        candidates = [r for r in REMARKS if r[0] in entry.values and r[0] not in entry.original and entry.values[r[0]]]
        if not candidates:
            return
        code, factor, text = self.rng.choice(candidates)
        value = entry.values[code]
        seen = _round(float(value) / factor)
        if entry.status == S.RETURNED:
            entry.values[code] = seen  # not corrected yet
            entry.remark = (code, text, D(seen))
        else:
            entry.original[code] = seen
            entry.remark = (code, text, D(seen))

    def numbers_of(self, values):
        numeric = self.numeric
        return {c: D(v) for c, v in values.items() if c in numeric}

    # -- writing ------------------------------------------------------------------------------

    def write(self, campaign, entries, previous):
        rng = self.rng
        opened_at = campaign.opened_at
        reminder = self.moment(self.today - datetime.timedelta(days=7), 10 * 3600)
        rows = []
        for entry in entries:
            steps = entry.steps
            submitted = entry.at(S.RESUBMITTED) or entry.at(S.SUBMITTED)
            validated = entry.at(S.VALIDATED)
            reminded = (
                entry.status in {S.NOT_STARTED, S.DRAFT} and reminder > opened_at + datetime.timedelta(days=7)
            ) and rng.random() < 0.4
            rows.append(
                (
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    campaign.pk,
                    entry.facts.pk,
                    entry.status,
                    opened_at,
                    entry.updated_at if steps else opened_at,
                    submitted,
                    validated,
                    1 + len(steps),
                    reminder if reminded else None,
                    1 if reminded else 0,
                )
            )
        names = ["uuid", "campaign", "structure", "status", "created_at", "updated_at", "submitted_at"]
        names += ["validated_at", "version", "reminded_at", "reminder_count"]
        self.counts["submissions"] += insert_rows(Submission, names, rows)
        ids = dict(Submission.objects.filter(campaign=campaign).values_list("structure_id", "pk"))
        for entry in entries:
            entry.pk = ids[entry.facts.pk]
        self.choose_reviewers(campaign, entries)
        by_reviewer = defaultdict(list)
        for entry in entries:
            if entry.status == S.VALIDATED:
                by_reviewer[entry.reviewer].append(entry.pk)
        for reviewer, pks in sorted(by_reviewer.items(), key=lambda item: item[0] or 0):
            for start in range(0, len(pks), 900):
                Submission.objects.filter(pk__in=pks[start : start + 900]).update(validated_by_id=reviewer)
        self.write_answers(entries)
        self.write_events(entries)
        self.write_anomalies(campaign, entries, previous)

    def choose_reviewers(self, campaign, entries):
        """The campaign's correspondants (Caf and federation editors of each département); each
        submission is reviewed by its federation's when it is a member, else mostly by the Caf's."""
        actions.assign_default_correspondents(campaign)
        by_department = defaultdict(list)
        rows = Correspondent.objects.filter(campaign=campaign).order_by("department_id", "user_id")
        for department, user_id in rows.values_list("department_id", "user_id"):
            by_department[department].append(user_id)
        partner_of = {}
        memberships = Membership.objects.filter(
            user_id__in={u for users in by_department.values() for u in users}, partner__isnull=False
        ).order_by("pk")
        for user_id, partner_id, kind in memberships.values_list("user_id", "partner_id", "partner__kind"):
            partner_of.setdefault(user_id, (partner_id, kind))
        for entry in entries:
            users = by_department.get(entry.facts.department, [])
            federation = [u for u in users if partner_of.get(u, (None,))[0] == entry.facts.federation_id]
            cafs = [u for u in users if partner_of.get(u, (None, None))[1] == PartnerKind.CAF]
            if federation and self.rng.random() < 0.7:
                entry.reviewer = self.rng.choice(federation)
            elif cafs:
                entry.reviewer = self.rng.choice(cafs)
            elif users:
                entry.reviewer = self.rng.choice(users)
            else:
                entry.reviewer = self.admin_id

    def write_answers(self, entries):
        questions = self.questions
        position = {code: i for i, code in enumerate(self.section_codes)}
        section_of = {code: position[q.section.code] for code, q in questions.items()}
        kinds = {code: q.kind for code, q in questions.items()}
        numeric = self.numeric
        # Adapted here, once per section's moment and only for choices: the rows go as they are.
        as_codes = adapter(Answer._meta.get_field("codes"))
        as_moment = adapter(Answer._meta.get_field("updated_at")) or (lambda moment: moment)

        def answers():
            for entry in entries:
                if not entry.values:
                    continue
                times = [as_moment(moment) for moment in entry.times]
                corrected_at = as_moment(entry.corrected_at) if entry.corrected_at else None
                original, comments, editor, pk = entry.original, entry.comments, entry.facts.editor_id, entry.pk
                for code, value in entry.values.items():
                    kind = kinds[code]
                    number, text, codes = None, "", None
                    if code in numeric:
                        number = value
                    elif kind == QuestionKind.BOOLEAN:
                        number = 1 if value else 0
                    elif kind == QuestionKind.MULTIPLE_CHOICE:
                        codes = as_codes(value)
                    else:
                        text = value
                    corrected = code in original
                    yield (
                        pk,
                        questions[code].pk,
                        number,
                        text,
                        codes,
                        comments.get(code, ""),
                        2 if corrected else 1,
                        corrected_at if corrected else times[section_of[code]],
                        editor,
                    )

        names = ["submission", "question", "number", "text", "codes", "comment", "version", "updated_at"]
        names.append("updated_by")
        self.counts["answers"] += insert_rows(Answer, names, answers(), ready={"codes", "updated_at"})

    def write_events(self, entries):
        def events():
            for entry in entries:
                before = S.NOT_STARTED
                for to, at, role, comment in entry.steps:
                    actor = entry.reviewer if role == "reviewer" else entry.facts.editor_id
                    yield (entry.pk, before, to, actor, at, comment)
                    before = to

        names = ["submission", "from_status", "to_status", "actor", "at", "comment"]
        self.counts["events"] += insert_rows(SubmissionEvent, names, events())

    def write_anomalies(self, campaign, entries, previous):
        """Anomalies as the detector finds them on the answers (and on those first sent, for the
        ones corrected since), each in the state its submission's story implies."""
        threshold = campaign.change_threshold
        references = defaultdict(lambda: defaultdict(list))
        own = defaultdict(lambda: defaultdict(list))
        for entry in entries:
            if entry.status in REFERENCE_STATUSES:
                group = references[(entry.facts.kind, entry.facts.department)]
                for code, number in entry.numbers.items():
                    group[code].append(number)
                    own[entry.facts.pk][code].append(number)
        for entry in previous.values():  # all validated
            group = references[(entry.facts.kind, entry.facts.department)]
            for code, number in entry.numbers.items():
                group[code].append(number)
                own[entry.facts.pk][code].append(number)
        fences = {}
        for key, group in references.items():
            fences[key] = {}
            for code, numbers in group.items():
                numbers.sort()
                floats = [float(n) for n in numbers]
                fences[key][code] = [_safe_fences(floats, dropped) for dropped in range(3)]
        questions = self.questions
        rows = []
        for entry in entries:
            if entry.status not in DETECTED_STATUSES:
                continue
            group = references[(entry.facts.kind, entry.facts.department)]
            before = entry.last_year or {}
            mine = own.get(entry.facts.pk, {})
            safe = fences.get((entry.facts.kind, entry.facts.department))
            found = detect(questions, threshold, entry.numbers, group, mine, before, safe)
            first = found
            if entry.original:
                first_numbers = {**entry.numbers, **self.numbers_of(entry.original)}
                first = detect(questions, threshold, first_numbers, group, mine, before, safe)
            rows += self.anomaly_rows(entry, found, first)
        names = ["uuid", "submission", "question", "kind", "status", "detail", "value_seen", "query"]
        names += ["queried_by", "queried_at", "justification", "resolved_by", "resolved_at", "created_at"]
        self.counts["anomalies"] += insert_rows(Anomaly, names, rows)

    def anomaly_rows(self, entry, found, first):
        rng = self.rng
        questions = self.questions
        status = entry.status
        sent, returned = entry.at(S.SUBMITTED), entry.at(S.RETURNED)
        resent, validated = entry.at(S.RESUBMITTED), entry.at(S.VALIDATED)
        reviewer, editor = entry.reviewer, entry.facts.editor_id
        now = self.moment(self.today - datetime.timedelta(days=1), 19 * 3600)
        rows = []

        def between(start, end):
            return start + (end - start) * rng.uniform(0.1, 0.9)

        def query(code, kind):
            if entry.typo and code == TYPO[0]:
                return TYPO_QUERY
            return rng.choice(QUERIES[kind])

        def justification(code):
            if entry.shock and entry.shock[0] == code:
                return entry.shock[1]
            return CODE_JUSTIFICATIONS.get(code) or rng.choice(NATURAL_JUSTIFICATIONS)

        def row(code, kind, state, detail, value, **extra):
            self.anomaly_counts[state] += 1
            item = {
                "query": "",
                "queried_by": None,
                "queried_at": None,
                "justification": "",
                "resolved_by": None,
                "resolved_at": None,
                "created_at": sent,
                **extra,
            }
            rows.append(
                (
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    entry.pk,
                    questions[code].pk,
                    kind,
                    state,
                    detail,
                    value,
                    item["query"],
                    item["queried_by"],
                    item["queried_at"],
                    item["justification"],
                    item["resolved_by"],
                    item["resolved_at"],
                    item["created_at"],
                )
            )

        for (code, kind), (detail, value) in sorted(first.items()):
            if (code, kind) in found:
                continue  # still found: the same anomaly, reopened if its value changed
            # Found as first sent, gone once corrected: the structure corrected it when sending again.
            asked = between(sent, returned)
            row(
                code,
                kind,
                AnomalyStatus.CORRECTED,
                detail,
                value,
                query=query(code, kind),
                queried_by=reviewer,
                queried_at=asked,
                resolved_by=editor,
                resolved_at=resent,
            )
        for (code, kind), (detail, value) in sorted(found.items()):
            seen_first = (code, kind) in first and first[(code, kind)][1] == value
            created = sent if (code, kind) in first else resent
            if status == S.SUBMITTED:
                if rng.random() < 0.35:
                    row(
                        code,
                        kind,
                        AnomalyStatus.QUERIED,
                        detail,
                        value,
                        query=query(code, kind),
                        queried_by=reviewer,
                        queried_at=between(sent, now),
                    )
                else:
                    row(code, kind, AnomalyStatus.OPEN, detail, value)
            elif status == S.RETURNED:
                row(
                    code,
                    kind,
                    AnomalyStatus.QUERIED,
                    detail,
                    value,
                    query=query(code, kind),
                    queried_by=reviewer,
                    queried_at=between(sent, returned),
                )
            elif returned is not None and seen_first:
                # Asked before the return, justified by the structure when sending again.
                row(
                    code,
                    kind,
                    AnomalyStatus.JUSTIFIED,
                    detail,
                    value,
                    query=query(code, kind),
                    queried_by=reviewer,
                    queried_at=between(sent, returned),
                    justification=justification(code),
                    resolved_by=editor,
                    resolved_at=resent,
                )
            elif status == S.RESUBMITTED:
                row(code, kind, AnomalyStatus.OPEN, detail, value, created_at=created)
            else:
                # Validated: the correspondant checked it and justified it before validating.
                row(
                    code,
                    kind,
                    AnomalyStatus.JUSTIFIED,
                    detail,
                    value,
                    justification=justification(code),
                    resolved_by=reviewer,
                    resolved_at=between(created, validated),
                    created_at=created,
                )
        if entry.remark:
            code, text, seen = entry.remark
            extra = {"query": text, "queried_by": reviewer, "queried_at": returned, "created_at": returned}
            if status == S.RETURNED:
                row(code, AnomalyKind.REVIEWER, AnomalyStatus.QUERIED, text[:500], seen, **extra)
            else:
                row(
                    code,
                    AnomalyKind.REVIEWER,
                    AnomalyStatus.CORRECTED,
                    text[:500],
                    seen,
                    resolved_by=editor,
                    resolved_at=resent,
                    **extra,
                )
        return rows


def _largest_remainder(weights, total):
    whole = sum(weights.values())
    exact = {k: total * w / whole for k, w in weights.items()}
    counts = {k: math.floor(x) for k, x in exact.items()}
    for key in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[key] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# Entry points


def ensure_questionnaire():
    """The SENACS questionnaire (its latest version), loaded from the shipped file if absent."""
    questionnaire = Questionnaire.objects.filter(code=QUESTIONNAIRE_CODE).order_by("-version").first()
    if questionnaire is None:
        questionnaire, _ = actions.load_questionnaire(QUESTIONNAIRE_FILE)
    return questionnaire


OBSERVATORY_MODELS = [Campaign, Correspondent, Submission, SubmissionEvent, Answer, Anomaly]


def seed(rng, today, *, years=2, admin=None):
    """Campaigns of the last `years` years for the structures in the database (see module doc)."""
    with transaction.atomic():
        summary = ObservatoryBuilder(rng, today, years=years, admin=admin).build()
    return summary


def delete_campaigns():
    """Every campaign and what hangs on it (the fastest order: the big tables without cascade)."""
    for model in (Anomaly, Answer, SubmissionEvent, Correspondent, Submission, Campaign):
        model.objects.all().delete()


STATE_LABELS = {
    S.NOT_STARTED: ("non commencé", "non commencés"),
    S.DRAFT: ("en cours de saisie", "en cours de saisie"),
    S.SUBMITTED: ("envoyé", "envoyés"),
    S.RETURNED: ("renvoyé à la structure", "renvoyés à la structure"),
    S.RESUBMITTED: ("envoyé à nouveau", "envoyés à nouveau"),
    S.VALIDATED: ("validé", "validés"),
}


def describe_states(counts):
    """« 25 non commencés, 38 en cours de saisie, … » in the order of the review."""
    parts = []
    for status, (one, many) in STATE_LABELS.items():
        if counts.get(status):
            parts.append(f"{counts[status]} {one if counts[status] == 1 else many}")
    return ", ".join(parts)


def analyze():
    """Fresh planner statistics after a bulk load (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in OBSERVATORY_MODELS)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")
