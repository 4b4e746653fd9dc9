"""The demo partnership, generated from a seed: same seed, same structures, names, communes and SIRET.

Two scales: `demo` (Rhône and Bouches-du-Rhône, about 150 structures, the cast of cadre.demo.cast)
and `national` (about 4,000 structures over every département, for benchmarks).
Dates are relative to today, so that approvals are current and some end soon.
Then the observatory (cadre.demo.observatory): last year's campaign, validated, and the current one;
and three fiscal years of financial statements for every structure (cadre.demo.monitoring).
"""

import datetime
import math
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone
from stdnum import luhn
from stdnum.fr import siret as stdnum_siret

from cadre.accounts.models import Membership, Role, User
from cadre.demo import agreements as demo_agreements
from cadre.demo import cast
from cadre.demo import monitoring as demo_monitoring
from cadre.demo import observatory as demo_observatory
from cadre.demo.vocabulary import (
    ADDRESS_COMPLEMENTS,
    APPROVAL_NOTES,
    CENTRE_PREFIXES,
    DEPARTMENT_LINKS,
    DEPARTMENT_PHONE_PREFIXES,
    EVS_NAMES,
    FEMALE_FIRST_NAMES,
    LAST_NAMES,
    MALE_FIRST_NAMES,
    NAMESAKES,
    OTHER_MANAGERS,
    PHONE_PREFIXES,
    PLACES,
    PROJECT_AXES,
    QPV_ARRONDISSEMENTS,
    STREETS,
    ascii_fold,
    of,
    slug,
)
from cadre.monitoring import receivers as alert_receivers
from cadre.monitoring.models import FinancialStatement
from cadre.partners.models import Partner, PartnerContact, PartnerKind
from cadre.structures.models import (
    Approval,
    ApprovalKind,
    Management,
    PriorityAreaStatus,
    Structure,
    StructureContact,
    StructureKind,
    TerritorySize,
    TerritoryType,
    add_months,
)
from cadre.territories.models import Commune, Department, Epci, PriorityArea

DEFAULT_SEED = 2024
BATCH = 500

# Demo scale: (centres sociaux, EVS) per département.
DEMO_DEPARTMENTS = {"69": (45, 30), "13": (45, 30)}
# National scale: totals spread over départements by population.
NATIONAL_CENTRES, NATIONAL_EVS = 2300, 1700
NATIONAL_STRUCTURE_EDITORS = 300
DROM = {"971", "972", "973", "974", "976"}
FULL_GEOGRAPHY_MIN_COMMUNES = 34000

LYON_METROPOLIS_EPCI = "200046977"
AIX_MARSEILLE_EPCI = "200054807"
LYON, VILLEURBANNE, VENISSIEUX, MARSEILLE = "69123", "69266", "69259", "13055"

# The six centres sociaux of Villeurbanne (its tripartite agreement covers exactly them).
VILLEURBANNE_CENTRES = [
    ("Centre social des Buers", PriorityAreaStatus.IN_AREA, ["QN06921M"]),
    ("Centre social Saint-Jean", PriorityAreaStatus.IN_AREA, ["QN06920M"]),
    ("Centre social et culturel Charpennes-Tonkin", PriorityAreaStatus.IN_AREA, ["QN06922M"]),
    ("Centre social de Cusset", PriorityAreaStatus.SERVES_AREA, ["QN06919M"]),
    ("Centre social de la Ferrandière", PriorityAreaStatus.SERVES_AREA, ["QN06901M"]),
    ("Centre social de Croix-Luizet", PriorityAreaStatus.NONE, []),
]

CONTACT_POSITIONS = {
    PartnerKind.CAF: [("Conseillère technique animation de la vie sociale", "F"), ("Responsable du pôle AVS", "M")],
    PartnerKind.STATE: [("Déléguée du préfet", "F"), ("Chef du bureau de la politique de la ville", "M")],
    PartnerKind.DEPARTMENT: [("Chargée de mission action sociale de proximité", "F")],
    PartnerKind.METROPOLIS: [("Chargé de mission politique de la ville", "M")],
    PartnerKind.COMMUNE: [("Chargée de mission vie des quartiers", "F"), ("Adjoint au maire délégué", "M")],
    PartnerKind.FEDERATION: [("Délégué fédéral", "M"), ("Chargée de mission", "F")],
    PartnerKind.MSA: [("Conseillère en développement social local", "F")],
    PartnerKind.CARSAT: [("Responsable de l'action sociale retraite", "M")],
}


class SeedError(Exception):
    """A reason not to seed, in French, for the command to print."""


@dataclass
class StructurePlan:
    kind: str
    commune: Commune
    status: str = PriorityAreaStatus.NONE
    areas: list = field(default_factory=list)
    name: str = ""
    federation: Partner | None = None
    number: int | None = None  # position in the cast (1 = structure A, 2 = structure B)
    fresh_area: bool = False  # first structure of its QPV: may be named after it


# ---------------------------------------------------------------------------------------------
# Entry points


def demo_exists():
    return Structure.objects.exists() or User.objects.filter(email__iendswith="@" + cast.DOMAIN).exists()


def seed(scale="demo", seed=DEFAULT_SEED, today=None):
    """Create the demo partnership in one transaction; returns a summary (counts, seconds)."""
    started = time.monotonic()
    if demo_exists():
        raise SeedError(
            "Des structures ou des comptes de démonstration existent déjà : seed_demo ne s'exécute que sur une "
            "base sans structure (utilisez --if-empty pour ne rien faire dans ce cas)."
        )
    builder_class = {"demo": DemoBuilder, "national": NationalBuilder, "national_demo": NationalDemoBuilder}[scale]
    # The health statuses are computed once at the end (demo_monitoring), not after each payment and document.
    with transaction.atomic(), alert_receivers.paused():
        builder = builder_class(seed=seed, today=today)
        builder.build()
        observatory = demo_observatory.seed(builder.rng, builder.today, admin=builder.admin)
        monitoring = demo_monitoring.seed(builder)
    if scale != "demo" and connection.vendor == "postgresql":
        # Fresh statistics after a bulk load, or the planner believes the tables are empty.
        models = [Structure, Approval, StructureContact, Partner, PartnerContact, User, Membership]
        models += demo_observatory.OBSERVATORY_MODELS + [FinancialStatement]
        tables = [m._meta.db_table for m in models] + [Structure.priority_areas.through._meta.db_table]
        tables += [m.history.model._meta.db_table for m in models if hasattr(m, "history")]
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))
    return {
        "structures": len(builder.structures),
        "partners": len(builder.partners),
        "users": len(builder.users),
        "approvals": len(builder.approvals),
        "observatory": observatory,
        "monitoring": monitoring,
        "seconds": time.monotonic() - started,
    }


# ---------------------------------------------------------------------------------------------
# Helpers


def bulk_create_tracked(model, objects, user, m2m=None):
    """bulk_create with one creation entry per row in the history, many-to-many snapshot included.

    `m2m`: {field name: {index in objects: [related primary keys]}}. Far faster than one
    save_tracked() per row, and the history reads the same (who, when, the values at creation).
    """
    model.objects.bulk_create(objects, batch_size=BATCH)
    if objects and objects[0].pk is None:
        raise RuntimeError("La base de données ne renvoie pas les identifiants créés en masse.")
    m2m = m2m or {}
    links = {}
    for name, targets_by_index in m2m.items():
        relation = model._meta.get_field(name)
        through = relation.remote_field.through
        source, target = relation.m2m_field_name() + "_id", relation.m2m_reverse_field_name() + "_id"
        through.objects.bulk_create(
            [
                through(**{source: objects[index].pk, target: pk})
                for index, pks in targets_by_index.items()
                for pk in pks
            ],
            batch_size=BATCH,
        )
        links[name] = (relation, through, source, target)
    records = model.history.bulk_history_create(objects, default_user=user, batch_size=BATCH)
    if not links:
        return
    record_ids = {record.id: record.history_id for record in records}
    recorder = model._history_recorder
    for relation, through, source, target in links.values():
        history_model = recorder.m2m_models[relation]
        rows = through.objects.filter(**{f"{source}__in": list(record_ids)}).values_list("id", source, target)
        history_model.objects.bulk_create(
            [
                history_model(id=row_id, history_id=record_ids[owner], **{source: owner, target: related})
                for row_id, owner, related in rows
            ],
            batch_size=BATCH,
        )


def make_siret(rng, first_digits, used):
    """A fresh SIRET with valid Luhn keys (SIREN and SIRET), never the same twice in one run."""
    while True:
        body = first_digits + "".join(str(rng.randrange(10)) for _ in range(8 - len(first_digits)))
        siren = body + luhn.calc_check_digit(body)
        partial = siren + "000" + str(rng.randrange(1, 10))
        siret = partial + luhn.calc_check_digit(partial)
        if siret not in used and stdnum_siret.is_valid(siret):
            used.add(siret)
            return siret


def make_rna(rng, department, used):
    """A fresh RNA number, W and 9 digits, the first ones those of the département as the RNA does."""
    prefix = department.replace("2A", "20").replace("2B", "20")[:3]
    while True:
        rna = "W" + prefix + "".join(str(rng.randrange(10)) for _ in range(9 - len(prefix)))
        if rna not in used:
            used.add(rna)
            return rna


def weighted_sample(rng, items, weights, count):
    return rng.choices(items, weights=weights, k=count) if items and count > 0 else []


def largest_remainder(weights, total, minimum=1):
    """Integers proportional to `weights`, each at least `minimum`, summing to `total`."""
    keys = list(weights)
    spare = total - minimum * len(keys)
    whole = sum(weights.values()) or 1
    exact = {k: spare * weights[k] / whole for k in keys}
    counts = {k: minimum + math.floor(exact[k]) for k in keys}
    left = total - sum(counts.values())
    for key in sorted(keys, key=lambda k: (exact[k] - math.floor(exact[k]), k), reverse=True)[:left]:
        counts[key] += 1
    return counts


def territory_size(population):
    if population < 2000:
        return TerritorySize.UNDER_2K
    if population < 10000:
        return TerritorySize.FROM_2K
    if population < 50000:
        return TerritorySize.FROM_10K
    if population < 100000:
        return TerritorySize.FROM_50K
    return TerritorySize.OVER_100K


def lower_article(name):
    for article in ("Les ", "Le ", "La ", "L'"):
        if name.startswith(article):
            return article.lower() + name[len(article) :]
    return name


# ---------------------------------------------------------------------------------------------
# Geography


class Geography:
    """Communes, QPV and where each QPV lies, for the départements being seeded."""

    def __init__(self, department_codes):
        codes = sorted(department_codes)
        self.departments = {d.code: d for d in Department.objects.order_by("code")}
        self.epci_names = dict(
            Epci.objects.filter(communes__department_id__in=codes).distinct().values_list("siren", "name")
        )
        communes = list(Commune.objects.filter(department_id__in=codes).order_by("code"))
        self.communes = {c.code: c for c in communes}
        self.arrondissements = defaultdict(list)
        for commune in communes:
            if commune.parent_id:
                self.arrondissements[commune.parent_id].append(commune)
        areas = list(PriorityArea.objects.filter(department_id__in=codes).prefetch_related("communes").order_by("code"))
        self.areas = {a.code: a for a in areas}
        self.areas_by_commune = defaultdict(list)
        for area in areas:
            for listed in sorted(c.code for c in area.communes.all()):
                if listed not in self.communes or self.communes[listed].department_id != area.department_id:
                    continue
                if listed in self.arrondissements:
                    # Paris, Lyon, Marseille: QPV are listed for the whole city; place them in one arrondissement.
                    hint = QPV_ARRONDISSEMENTS.get(area.code)
                    targets = [hint] if hint in self.communes else [c.code for c in self.arrondissements[listed]]
                else:
                    targets = [listed]
                for code in targets:
                    self.areas_by_commune[code].append(area)
        self.areas_by_epci = defaultdict(list)
        for code, commune_areas in sorted(self.areas_by_commune.items()):
            epci = self.communes[code].epci_id
            for area in commune_areas:
                if epci and area not in self.areas_by_epci[epci]:
                    self.areas_by_epci[epci].append(area)
        # Cities split into arrondissements are never a structure's commune: their arrondissements are.
        self.candidates = defaultdict(list)
        for commune in communes:
            if commune.code not in self.arrondissements and commune.population:
                self.candidates[commune.department_id].append(commune)

    def city_name(self, commune):
        """The name people use: « Lyon » for Lyon 8e Arrondissement."""
        return self.communes[commune.parent_id].name if commune.parent_id else commune.name

    def short_name(self, commune):
        """« Paris 18e » for Paris 18e Arrondissement, to tell apart namesakes of one city."""
        return commune.name.replace(" Arrondissement", "")

    def department_population(self, code):
        return sum(c.population for c in self.candidates[code])


# ---------------------------------------------------------------------------------------------
# Builders


class Builder:
    """Shared generation of structures, approvals, contacts and accounts."""

    def __init__(self, seed=DEFAULT_SEED, today=None):
        self.seed = seed
        self.rng = random.Random(seed)
        self.today = today or timezone.localdate()
        self.used_names = defaultdict(set)
        self.used_sirets = set()
        self.used_rnas = set()
        self.used_areas = set()
        self.password = make_password(cast.PASSWORD)  # hashed once: hashing per user is the slow part
        self.partners = []
        self.structures = []
        self.approvals = []
        self.users = []
        self.admin = None
        self._partner_contacts = []

    # -- small draws ------------------------------------------------------------------------

    def uuid(self):
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def person(self):
        female = self.rng.random() < 0.62  # the sector's staff is mostly female
        first = self.rng.choice(FEMALE_FIRST_NAMES if female else MALE_FIRST_NAMES)
        return first, self.rng.choice(LAST_NAMES), female

    def email_of(self, first, last, domain="exemple.fr"):
        return f"{slug(first)}.{slug(last)}@{domain}"

    def phone(self, department_code):
        prefixes = DEPARTMENT_PHONE_PREFIXES.get(department_code)
        if not prefixes:
            region = self.geo.departments[department_code].region_id
            prefixes = PHONE_PREFIXES.get(region, ["01"])
        digits = self.rng.choice(prefixes).replace(" ", "")
        while len(digits) < 10:
            digits += str(self.rng.randrange(10))
        return " ".join(digits[i : i + 2] for i in range(0, 10, 2))

    def address(self):
        return f"{self.rng.randrange(1, 140)} {self.rng.choice(STREETS)}"

    def unique_name(self, draw, commune):
        """A name not yet used in the département (names do repeat across France, as in reality)."""
        used = self.used_names[commune.department_id]
        for _ in range(5):
            name = draw()
            if name not in used:
                break
        else:
            base = f"{name} – {self.geo.short_name(commune)}"
            name, count = base, 1
            while name in used:
                count += 1
                name = f"{base} {count}"
        used.add(name)
        return name

    # -- placement --------------------------------------------------------------------------

    def place(self, department_code, centres, evs, exclude=(), first_in=None):
        """Plans of `centres` centres sociaux and `evs` EVS on real communes, weighted by population."""
        candidates = [c for c in self.geo.candidates[department_code] if c.code not in exclude]
        centre_candidates = [c for c in candidates if c.population >= 3000]
        if len(centre_candidates) < 5:
            centre_candidates = sorted(candidates, key=lambda c: (-c.population, c.code))[:10]
        centre_weights = [c.population * (1.8 if self.geo.areas_by_commune[c.code] else 1) for c in centre_candidates]
        centre_communes = weighted_sample(self.rng, centre_candidates, centre_weights, centres)
        if first_in and centre_communes:
            firsts = [c for c in centre_candidates if c.code in first_in]
            if firsts:
                centre_communes[0] = self.rng.choice(firsts)
        evs_candidates = [c for c in candidates if c.population >= 200]
        evs_weights = [math.sqrt(c.population) for c in evs_candidates]
        evs_communes = weighted_sample(self.rng, evs_candidates, evs_weights, evs)
        plans = [self.plan(StructureKind.CENTRE_SOCIAL, c) for c in centre_communes]
        plans += [self.plan(StructureKind.EVS, c) for c in evs_communes]
        return plans

    def plan(self, kind, commune):
        local = self.geo.areas_by_commune[commune.code]
        nearby = [
            a for a in self.geo.areas_by_epci.get(commune.epci_id, []) if a.department_id == commune.department_id
        ]
        draw = self.rng.random()
        in_share, serves_share = (0.6, 0.2) if kind == StructureKind.CENTRE_SOCIAL else (0.35, 0.15)
        if not local:
            in_share, serves_share = 0, (0.12 if kind == StructureKind.CENTRE_SOCIAL else 0.05)
        plan = StructurePlan(kind=kind, commune=commune)
        if draw < in_share:
            fresh = [a for a in local if a.code not in self.used_areas]
            plan.status = PriorityAreaStatus.IN_AREA
            plan.areas = [self.rng.choice(fresh or local)]
            plan.fresh_area = bool(fresh)
        elif draw < in_share + serves_share and (local or nearby):
            plan.status = PriorityAreaStatus.SERVES_AREA
            plan.areas = [self.rng.choice(local or nearby)]
        if plan.areas and self.rng.random() < 0.15:
            extra = self.rng.choice(local if plan.status == PriorityAreaStatus.IN_AREA else local or nearby)
            if extra not in plan.areas:
                plan.areas.append(extra)
        self.used_areas.update(a.code for a in plan.areas)
        return plan

    # -- names ------------------------------------------------------------------------------

    def named_after_city(self, commune):
        # « Centre social de Marseille » says nothing in a city with dozens of them.
        return not commune.parent_id and commune.population < 80000

    def centre_name(self, plan):
        city = self.geo.city_name(plan.commune)
        area = plan.areas[0] if plan.status == PriorityAreaStatus.IN_AREA and plan.fresh_area else None
        by_city = self.named_after_city(plan.commune)

        def draw():
            prefixes, weights = zip(*CENTRE_PREFIXES, strict=True)
            prefix = self.rng.choices(prefixes, weights=weights)[0]
            roll = self.rng.random()
            place = area and lower_article(area.name.split(" - ")[0].strip())
            if place and not place.lower().startswith(("centre", "quartier", "secteur")) and len(place) > 3:
                if roll < 0.75:
                    return f"{prefix} {of(place, proper=False) if place[:1].islower() else place}"
            if roll < 0.3:
                return f"{prefix} {self.rng.choice(NAMESAKES)}"
            if roll < 0.5 and by_city:
                return f"{prefix} {of(city)}"
            return f"{prefix} {of(self.rng.choice(PLACES), proper=False)}"

        return self.unique_name(draw, plan.commune)

    def evs_name(self, plan):
        city = self.geo.city_name(plan.commune)
        by_city = self.named_after_city(plan.commune)

        def draw():
            roll = self.rng.random()
            label = self.rng.choice(EVS_NAMES)
            if roll < 0.5 or (roll >= 0.7 and not by_city):
                return f"Espace de vie sociale {label}"
            if roll < 0.7:
                return f"EVS {label}"
            if roll < 0.85:
                return f"{label}, espace de vie sociale {of(city)}"
            return f"Espace de vie sociale {of(city)}"

        return self.unique_name(draw, plan.commune)

    def manager_name(self, structure, city):
        department = self.geo.departments[structure.commune.department_id]
        if structure.management == Management.LOCAL_AUTHORITY:
            epci = self.geo.epci_names.get(structure.commune.epci_id, "")
            if structure.commune.population < 5000:
                return epci if epci.startswith("CC ") and self.rng.random() < 0.5 else "Commune " + of(city)
            return self.rng.choice(["Ville ", "CCAS "]) + of(city)
        if structure.management == Management.CAF:
            return f"Caf {DEPARTMENT_LINKS.get(department.code, 'de ')}{department.name}"
        if structure.management == Management.OTHER:
            return self.rng.choice(OTHER_MANAGERS)
        lowered = structure.name[0].lower() + structure.name[1:]
        if lowered.startswith("centre"):
            return f"Association du {lowered}"
        if lowered.startswith("espace"):
            return f"Association de l'{lowered}"
        if lowered.startswith("maison"):
            return f"Association de la {lowered}"
        if lowered.startswith("evs "):
            return f"Association {structure.name[4:]}"
        return f"Association {structure.name.split(',')[0]}"

    # -- structures -------------------------------------------------------------------------

    def structure(self, plan):
        rng = self.rng
        commune = plan.commune
        centre = plan.kind == StructureKind.CENTRE_SOCIAL
        city = self.geo.city_name(commune)
        name = plan.name or (self.centre_name(plan) if centre else self.evs_name(plan))
        self.used_names[commune.department_id].add(name)
        roll = rng.random()
        if centre:
            management = (
                Management.ASSOCIATION
                if roll < 0.75
                else Management.LOCAL_AUTHORITY
                if roll < 0.9
                else Management.CAF
                if roll < 0.95
                else Management.OTHER
            )
        else:
            management = (
                Management.ASSOCIATION
                if roll < 0.8
                else Management.LOCAL_AUTHORITY
                if roll < 0.95
                else Management.OTHER
            )
        siret_prefix = "2" if management == Management.LOCAL_AUTHORITY else rng.choice(["77", "78", "79", "81", "83"])
        in_area = plan.status == PriorityAreaStatus.IN_AREA
        if in_area:
            territory_type = rng.choice([TerritoryType.NEIGHBOURHOOD, TerritoryType.SEVERAL_NEIGHBOURHOODS])
            served = min(commune.population, rng.randrange(3000, 16000, 100))
        elif commune.population < 5000:
            territory_type = rng.choice(
                [TerritoryType.COMMUNE, TerritoryType.SEVERAL_COMMUNES, TerritoryType.INTERCOMMUNAL]
            )
            factor = {TerritoryType.COMMUNE: 1, TerritoryType.SEVERAL_COMMUNES: 3, TerritoryType.INTERCOMMUNAL: 6}
            served = commune.population * factor[territory_type]
        elif commune.population < 20000:
            territory_type = TerritoryType.COMMUNE
            served = commune.population
        else:
            territory_type = rng.choice([TerritoryType.SEVERAL_NEIGHBOURHOODS, TerritoryType.NEIGHBOURHOOD])
            served = min(commune.population, rng.randrange(5000, 30000, 100))
        structure = Structure(
            uuid=self.uuid(),
            name=name,
            kind=plan.kind,
            siret=make_siret(rng, siret_prefix, self.used_sirets),
            management=management,
            address=self.address(),
            address_complement=rng.choice(ADDRESS_COMPLEMENTS) if rng.random() < 0.15 else "",
            postal_code=rng.choice(commune.postal_code_list) if commune.postal_code_list else "",
            commune=commune,
            served_population=served,
            territory_type=territory_type,
            territory_size=territory_size(served),
            priority_area_status=plan.status,
            federation=plan.federation,
            serves_travellers=rng.random() < 0.05,
            multi_site=rng.random() < 0.12,
            itinerant=rng.random() < (0.04 if centre else 0.1),
            project_axes=rng.sample(PROJECT_AXES, rng.randint(2, 5)),
            email=f"{slug(name)}@exemple.fr",
            phone=self.phone(commune.department_id),
        )
        structure.manager_name = self.manager_name(structure, city)
        error = structure.check_priority_areas(plan.areas)
        if error:
            raise RuntimeError(f"{name} : {error}")
        structure._plan = plan
        return structure

    def approvals_for(self, structure):
        """The Caf approvals of a structure: the current one, sometimes earlier ones, sometimes the renewal."""
        rng = self.rng
        centre = structure.kind == StructureKind.CENTRE_SOCIAL
        main_kind = ApprovalKind.SOCIAL_PROJECT if centre else ApprovalKind.EVS
        this_month = self.today.replace(day=1)
        years = rng.choices([1, 2, 3, 4], weights=[5, 15, 25, 55] if centre else [15, 35, 30, 20])[0]
        roll = rng.random()
        renewed = False
        if roll < 0.25:  # ends in 2 to 12 months, renewal not yet decided
            months_left = rng.randint(3, 12)
        elif roll < 0.33:  # ends soon, renewal already decided by the Caf board
            months_left = rng.randint(1, 5)
            renewed = True
        else:
            years = max(years, 2)
            months_left = rng.randint(13, 12 * years)
        periods = [(add_months(this_month, months_left - 12 * years), add_months(this_month, months_left))]
        for _ in range(rng.choices([0, 1, 2], weights=[30, 45, 25])[0]):
            first = periods[0][0]
            periods.insert(0, (add_months(first, -12 * rng.choice([3, 4] if centre else [2, 3, 4])), first))
        if renewed:
            periods.append((periods[-1][1], add_months(periods[-1][1], 48)))
        approvals = []

        def approval(kind, starts, next_start, renewal=False):
            decision = self.today - datetime.timedelta(days=rng.randint(5, 60)) if renewal else None
            return Approval(
                uuid=self.uuid(),
                structure=structure,
                kind=kind,
                starts=starts,
                ends=next_start - datetime.timedelta(days=1),
                board_decision_date=decision or starts - datetime.timedelta(days=rng.randint(20, 90)),
                notes=rng.choice(APPROVAL_NOTES) if rng.random() < 0.15 else "",
            )

        for index, (starts, next_start) in enumerate(periods):
            approvals.append(approval(main_kind, starts, next_start, renewal=renewed and index == len(periods) - 1))
        if centre and rng.random() < 0.6:
            # Family projects follow the social project's periods, often from a later one.
            first_family = rng.randrange(len(periods) - (1 if renewed else 0))
            for index in range(first_family, len(periods)):
                starts, next_start = periods[index]
                approvals.append(
                    approval(
                        ApprovalKind.FAMILY_PROJECT, starts, next_start, renewal=renewed and index == len(periods) - 1
                    )
                )
        earliest = periods[0][0]
        first_year = rng.randint(1965, 2018) if centre else rng.randint(1999, 2021)
        first_date = datetime.date(first_year, rng.randint(1, 12), 1)
        structure.first_approval_date = min(first_date, earliest)
        return approvals

    def contacts_for(self, structure, family_project):
        rng = self.rng
        centre = structure.kind == StructureKind.CENTRE_SOCIAL
        roles = [("Directrice", "Directeur") if centre else ("Coordinatrice", "Coordinateur")]
        extras = [
            ("Présidente de l'association", "Président de l'association"),
            ("Chargée d'accueil", "Chargé d'accueil"),
        ]
        if family_project:
            extras.insert(0, ("Référente familles", "Référent familles"))
        if structure.management != Management.ASSOCIATION:
            extras = [e for e in extras if not e[0].startswith("Présidente")]
        roles += extras[: rng.randint(0, min(2, len(extras)))]
        contacts = []
        for index, (female_title, male_title) in enumerate(roles):
            first, last, female = self.person()
            contacts.append(
                StructureContact(
                    structure=structure,
                    name=f"{first} {last}",
                    position=female_title if female else male_title,
                    email=self.email_of(first, last),
                    phone=self.phone(structure.commune.department_id),
                    is_public=index == 0 and rng.random() < 0.7,
                )
            )
        return contacts

    def build_structures(self, plans):
        """Turn plans into saved structures (with history), approvals and contacts."""
        structures = [self.structure(plan) for plan in plans]
        self.registry_numbers(structures)
        approvals, contacts = [], []
        for structure in structures:
            mine = self.approvals_for(structure)
            approvals += mine
            family = any(a.kind == ApprovalKind.FAMILY_PROJECT for a in mine)
            contacts += self.contacts_for(structure, family)
        # Stable numbering: the cast first (A, B), then by département, type and name.
        structures.sort(
            key=lambda s: (
                s._plan.number or 10**6,
                s.commune.department_id,
                s.kind,
                ascii_fold(s.name).lower(),
            )
        )
        areas = {i: [a.code for a in s._plan.areas] for i, s in enumerate(structures) if s._plan.areas}
        bulk_create_tracked(Structure, structures, self.admin, m2m={"priority_areas": areas})
        bulk_create_tracked(Approval, approvals, self.admin)
        bulk_create_tracked(StructureContact, contacts, self.admin)
        self.structures, self.approvals = structures, approvals
        return structures

    def registry_numbers(self, structures):
        """RNA numbers for most associations; a few small associative EVS with neither SIRET nor RNA
        (not yet registered: the SCDL export leaves them out and its page says so).

        Drawn from a generator of each structure's own, so that the rest of the demo stays as it was."""
        for structure in structures:
            if structure.management != Management.ASSOCIATION:
                continue
            rng = random.Random(f"{self.seed}:rna:{structure.uuid}")
            roll = rng.random()
            if structure.kind == StructureKind.EVS and structure._plan.number is None and roll < 0.2:
                structure.siret = ""
            elif roll < 0.85:
                structure.rna = make_rna(rng, structure.commune.department_id, self.used_rnas)

    # -- partners and accounts --------------------------------------------------------------

    def partner(self, name, short_name, kind, departments=(), communes=(), domain_hint=""):
        partner = Partner(
            uuid=self.uuid(),
            name=name,
            short_name=short_name,
            kind=kind,
            siret=make_siret(
                self.rng, "2" if kind in {PartnerKind.COMMUNE, PartnerKind.DEPARTMENT} else "1", self.used_sirets
            ),
            address=self.address(),
            email=f"avs.{slug(domain_hint or short_name or name)}@exemple.fr",
        )
        department_codes = sorted(departments)
        commune_codes = sorted(communes)

        def relations():
            partner.departments.set(department_codes)
            partner.communes.set(commune_codes)

        # save_tracked writes one history entry with the territory in it; partners are few.
        partner.save_tracked(save_relations=relations, user=self.admin)
        for position, gender in CONTACT_POSITIONS.get(kind, [])[: self.rng.randint(1, 2)]:
            first, last, _ = self.person()
            if gender == "F":
                first = self.rng.choice(FEMALE_FIRST_NAMES)
            elif gender == "M":
                first = self.rng.choice(MALE_FIRST_NAMES)
            contact = PartnerContact(
                partner=partner,
                name=f"{first} {last}",
                position=position,
                email=self.email_of(first, last),
                phone=self.phone(
                    department_codes[0] if department_codes else self.geo.communes[commune_codes[0]].department_id
                ),
            )
            self._partner_contacts.append(contact)
        self.partners.append(partner)
        return partner

    def save_partner_contacts(self):
        bulk_create_tracked(PartnerContact, self._partner_contacts, self.admin)

    def assign_federations(self, plans, federations):
        """About 70 % of centres sociaux and 20 % of EVS are members of their département's federation."""
        for plan in plans:
            if plan.federation is None and plan.number is None:
                share = 0.75 if plan.kind == StructureKind.CENTRE_SOCIAL else 0.2
                if self.rng.random() < share:
                    plan.federation = federations.get(plan.commune.department_id)

    def user(self, email, first_name, last_name, **fields):
        user = User(
            email=email, first_name=first_name, last_name=last_name, password=self.password, is_active=True, **fields
        )
        self.users.append(user)
        return user

    def create_admin(self):
        self.admin = User.objects.create(
            email=cast.ADMIN,
            first_name="Hélène",
            last_name="Rivière",
            password=self.password,
            is_staff=True,
            is_superuser=True,
        )
        self.users.append(self.admin)

    def save_accounts(self, memberships):
        """Users in bulk (the hash is shared), then their memberships with history."""
        User.objects.bulk_create([u for u in self.users if u.pk is None], batch_size=BATCH)
        objects = [Membership(user=user, role=role, **{kind: org}) for user, kind, org, role in memberships]
        bulk_create_tracked(Membership, objects, self.admin)

    def structure_editors(self, structures, email=cast.structure_editor):
        memberships = []
        for number, structure in enumerate(structures, start=1):
            first, last, _ = self.person()
            user = self.user(email(number), first, last)
            memberships.append((user, "structure", structure, Role.EDITOR))
        return memberships


class DemoBuilder(Builder):
    """The Rhône and the Bouches-du-Rhône: partners of a real convention cadre, 150 structures, the cast."""

    def build(self):
        self.geo = Geography(DEMO_DEPARTMENTS)
        if VILLEURBANNE not in self.geo.communes or MARSEILLE not in self.geo.communes:
            raise SeedError(
                "La géographie du Rhône et des Bouches-du-Rhône manque : lancez d'abord "
                "« manage.py load_territories » (ou load_territories --departments 69 13)."
            )
        self.create_admin()
        p = self.create_partners()
        plans = self.plan_structures(p)
        structures = self.build_structures(plans)
        self.save_partner_contacts()
        memberships = [
            (self.user(cast.CAF69, "Sophie", "Garnier"), "partner", p["caf69"], Role.EDITOR),
            (self.user(cast.CAF13, "Karim", "Benali"), "partner", p["caf13"], Role.EDITOR),
            (self.user(cast.CITY_VILLEURBANNE, "Claire", "Dumas"), "partner", p["villeurbanne"], Role.VIEWER),
            (self.user(cast.FEDERATION69, "Élodie", "Perrin"), "partner", p["federation69"], Role.EDITOR),
            (self.user(cast.FEDERATION13, "Mehdi", "Haddad"), "partner", p["federation13"], Role.EDITOR),
            (self.user(cast.PREFECTURE13, "Anne", "Roussel"), "partner", p["prefecture13"], Role.VIEWER),
            (self.user(cast.METROPOLIS69, "Julien", "Moreau"), "partner", p["metropolis69"], Role.VIEWER),
        ]
        memberships += self.structure_editors(structures)
        self.save_accounts(memberships)
        self.agreements = demo_agreements.seed(self, p, structures)

    def create_partners(self):
        geo = self.geo
        plain = [c for c in geo.communes.values() if not c.parent_id]
        lyon_metropolis = [c.code for c in plain if c.epci_id == LYON_METROPOLIS_EPCI]
        rhone_outside = [c.code for c in plain if c.department_id == "69" and c.epci_id != LYON_METROPOLIS_EPCI]
        aix_marseille = [c.code for c in plain if c.epci_id == AIX_MARSEILLE_EPCI]
        rhone_alpes = ["01", "07", "26", "38", "42", "69", "73", "74"]
        make = self.partner
        return {
            "caf69": make("Caf du Rhône", "Caf 69", PartnerKind.CAF, departments=["69"]),
            "caf13": make("Caf des Bouches-du-Rhône", "Caf 13", PartnerKind.CAF, departments=["13"]),
            "prefecture69": make("Préfecture du Rhône", "Préfecture 69", PartnerKind.STATE, departments=["69"]),
            "prefecture13": make(
                "Préfecture des Bouches-du-Rhône", "Préfecture 13", PartnerKind.STATE, departments=["13"]
            ),
            "department13": make(
                "Département des Bouches-du-Rhône", "CD 13", PartnerKind.DEPARTMENT, departments=["13"]
            ),
            "department69": make("Département du Rhône", "CD 69", PartnerKind.DEPARTMENT, communes=rhone_outside),
            "metropolis69": make(
                "Métropole de Lyon", "Métropole de Lyon", PartnerKind.METROPOLIS, communes=lyon_metropolis
            ),
            "metropolis13": make(
                "Métropole d'Aix-Marseille-Provence", "AMP", PartnerKind.METROPOLIS, communes=aix_marseille
            ),
            "lyon": make("Ville de Lyon", "Lyon", PartnerKind.COMMUNE, communes=[LYON]),
            "villeurbanne": make("Ville de Villeurbanne", "Villeurbanne", PartnerKind.COMMUNE, communes=[VILLEURBANNE]),
            "venissieux": make("Ville de Vénissieux", "Vénissieux", PartnerKind.COMMUNE, communes=[VENISSIEUX]),
            "marseille": make("Ville de Marseille", "Marseille", PartnerKind.COMMUNE, communes=[MARSEILLE]),
            "federation69": make(
                "Fédération des centres sociaux du Rhône et de la Métropole de Lyon",
                "FCS 69",
                PartnerKind.FEDERATION,
                departments=["69"],
            ),
            "federation13": make(
                "Union des centres sociaux des Bouches-du-Rhône", "UCS 13", PartnerKind.FEDERATION, departments=["13"]
            ),
            "msa": make("MSA Ain-Rhône", "MSA Ain-Rhône", PartnerKind.MSA, departments=["01", "69"]),
            "carsat": make("Carsat Rhône-Alpes", "Carsat Rhône-Alpes", PartnerKind.CARSAT, departments=rhone_alpes),
        }

    def plan_structures(self, p):
        geo = self.geo
        villeurbanne = geo.communes[VILLEURBANNE]
        plans = []
        for index, (name, status, codes) in enumerate(VILLEURBANNE_CENTRES):
            areas = [geo.areas[c] for c in codes if c in geo.areas]
            plan = StructurePlan(
                kind=StructureKind.CENTRE_SOCIAL,
                commune=villeurbanne,
                status=status if areas else PriorityAreaStatus.NONE,
                areas=areas,
                name=name,
            )
            if index == 0:
                plan.number = 1  # structure A, member of the Rhône federation
                plan.federation = p["federation69"]
            plans.append(plan)
            self.used_areas.update(codes)
        centres, evs = DEMO_DEPARTMENTS["69"]
        plans += self.place("69", centres - len(VILLEURBANNE_CENTRES), evs, exclude={VILLEURBANNE})
        centres, evs = DEMO_DEPARTMENTS["13"]
        marseille = {c.code for c in geo.arrondissements[MARSEILLE]}
        plans_13 = self.place("13", centres, evs, first_in=marseille)
        plans_13[0].number = 2  # structure B: a centre social of Marseille, member of UCS 13
        plans_13[0].federation = p["federation13"]
        plans += plans_13
        self.assign_federations(plans, {"69": p["federation69"], "13": p["federation13"]})
        return plans


class NationalBuilder(Builder):
    """Every metropolitan and overseas département: a Caf and a federation each, about 4,000 structures."""

    def build(self, skip=()):
        if Commune.objects.count() < FULL_GEOGRAPHY_MIN_COMMUNES:
            raise SeedError(
                "La démonstration nationale demande toute la géographie de la France : lancez "
                "« manage.py load_territories » sans --departments (seulement "
                f"{Commune.objects.count()} communes chargées)."
            )
        codes = [
            code
            for code in Department.objects.order_by("code").values_list("code", flat=True)
            if (len(code) == 2 or code in DROM) and code not in skip
        ]
        self.geo = Geography(codes)
        codes = [c for c in codes if self.geo.candidates[c]]
        if self.admin is None:
            self.create_admin()
        cafs, federations = {}, {}
        for code in codes:
            department = self.geo.departments[code]
            link = DEPARTMENT_LINKS.get(code, "de ")
            cafs[code] = self.partner(
                f"Caf {link}{department.name}", f"Caf {code}", PartnerKind.CAF, departments=[code]
            )
            federations[code] = self.partner(
                f"Fédération des centres sociaux {link}{department.name}",
                f"FCS {code}",
                PartnerKind.FEDERATION,
                departments=[code],
            )
        population = {code: self.geo.department_population(code) for code in codes}
        centre_counts = largest_remainder(population, NATIONAL_CENTRES)
        evs_counts = largest_remainder(population, NATIONAL_EVS)
        plans = []
        for code in codes:
            plans += self.place(code, centre_counts[code], evs_counts[code])
        self.assign_federations(plans, federations)
        structures = self.build_structures(plans)
        self.save_partner_contacts()
        memberships = []
        for code in codes:
            slug_code = code.lower()
            first, last, _ = self.person()
            memberships.append(
                (self.user(f"caf{slug_code}@{cast.DOMAIN}", first, last), "partner", cafs[code], Role.EDITOR)
            )
            first, last, _ = self.person()
            memberships.append(
                (
                    self.user(f"federation{slug_code}@{cast.DOMAIN}", first, last),
                    "partner",
                    federations[code],
                    Role.EDITOR,
                )
            )
        # A structure editor for a sample spread over the whole list.
        step = max(1, len(structures) // NATIONAL_STRUCTURE_EDITORS)
        sample = structures[::step][:NATIONAL_STRUCTURE_EDITORS]
        # Not « structure-NNN »: at this scale there is no structure A in Villeurbanne nor B in Marseille.
        memberships += self.structure_editors(sample, email=lambda n: f"contributeur-{n:03d}@{cast.DOMAIN}")
        self.save_accounts(memberships)


class NationalDemoBuilder(NationalBuilder):
    """The national registry with, in the Rhône and the Bouches-du-Rhône, the demo partnership and its cast.

    Every page of the role × URL matrix then has its objects (structure A, the Villeurbanne agreement…)
    among national volumes: what benchmarks/pages.py measures.
    """

    def build(self):
        demo = DemoBuilder(seed=self.seed, today=self.today)
        demo.build()
        self.admin, self.used_sirets, self.used_rnas = demo.admin, demo.used_sirets, demo.used_rnas
        self.rng = random.Random(f"{self.seed}-national")  # not the demo's draws again (its uuids…)
        super().build(skip=set(DEMO_DEPARTMENTS))
        self.structures = demo.structures + self.structures
        self.partners = demo.partners + self.partners
        self.approvals = demo.approvals + self.approvals
        self.users = demo.users + [u for u in self.users if u is not self.admin]
        self.agreements = demo.agreements
