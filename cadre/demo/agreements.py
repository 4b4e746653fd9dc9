"""Demo agreements and funding: the Bouches-du-Rhône convention cadre 2024-2027 (co-chaired by the
State and the Caf, with its signatory communes, after a 2019-2023 edition that Aix-en-Provence
signed and did not renew), a Marseille centre's
agreement, the Villeurbanne tripartite agreement with its roadmap on five themes, and funding
2024-2027 with payments in every state (paid in full, partly paid, voted not paid, forecast only).

Demo data: the signatories, amounts, decisions and yearly ceilings are invented for the demo (the
Caf rates by year are the national ones, from cadre.funding.schemes). Drawn from its own random
generator, so that the rest of the demo stays the same whether this part runs or not.
"""

import datetime
import hashlib
import random
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from cadre.agreements import actions as agreement_actions
from cadre.agreements.models import (
    Agreement,
    AgreementKind,
    AgreementStatus,
    Attachment,
    AttachmentKind,
    Committee,
    CommitteeKind,
    CommitteeMember,
    Event,
    EventKind,
    FollowUp,
    FrameworkAgreement,
    ItemStatus,
    Meeting,
    MemberRole,
    ProgressNote,
    Registration,
    RoadmapItem,
    Signatory,
    SignatoryRole,
)
from cadre.funding import actions as funding_actions
from cadre.funding.models import (
    Document,
    DocumentKind,
    Envelope,
    EnvelopeKey,
    FundingLine,
    FundingScheme,
    PaymentKind,
    SchemeYear,
    euros,
    missing_for_balance,
    service_amount,
)
from cadre.funding.schemes import load_default_schemes
from cadre.partners.models import PartnerKind
from cadre.structures.models import ApprovalKind, PriorityAreaStatus, StructureKind
from cadre.territories.models import Department

day = datetime.date
YEARS = range(2024, 2028)
# Invented ceilings of the demo, entered as an administrator would each year (not the Cnaf's figures).
DEMO_CEILINGS = {
    "ps-animation-globale": Decimal("72000"),
    "ps-animation-collective-familles": Decimal("24000"),
    "ps-evs": Decimal("30000"),
}
# Signatory communes of the Bouches-du-Rhône demo convention, beside Marseille (INSEE codes).
COMMUNES_13 = {
    "aix": ("13001", "Ville d'Aix-en-Provence"),
    "arles": ("13004", "Ville d'Arles"),
    "aubagne": ("13005", "Ville d'Aubagne"),
}

CHARTER = (
    "Les signataires reconnaissent les centres sociaux et les espaces de vie sociale comme des lieux de "
    "participation des habitants et de développement social local. Ils s'engagent à coordonner leurs "
    "financements dans la durée, à simplifier les démarches des structures et à partager entre eux les "
    "informations utiles à leur accompagnement."
)
VALUES = ["Dignité humaine", "Solidarité", "Démocratie"]
PURPOSES = [
    "Renforcer le pouvoir d'agir des habitants",
    "Soutenir les structures implantées dans les quartiers prioritaires et les territoires ruraux",
    "Coordonner les financements et les calendriers des partenaires",
    "Évaluer ensemble l'action des structures à partir de l'observatoire annuel",
]

ROADMAP = {
    "Territoire": [
        ("Partager le diagnostic de territoire des six centres", "villeurbanne", day(2024, 6, 30), ItemStatus.DONE),
        ("Redécouper les zones d'influence après la révision des QPV", "caf", day(2025, 3, 31), ItemStatus.IN_PROGRESS),
    ],
    "Valorisation, évaluation et communication": [
        ("Présenter les données SENACS en journée d'échange", "caf", day(2025, 11, 30), ItemStatus.DONE),
        ("Publier un bilan commun à mi-parcours", "villeurbanne", day(2026, 6, 30), ItemStatus.PLANNED),
    ],
    "Notion de projet": [
        ("Harmoniser le calendrier des projets sociaux", "caf", day(2026, 12, 31), ItemStatus.IN_PROGRESS),
    ],
    "Vie associative": [
        (
            "Former les administrateurs bénévoles à la fonction employeur",
            "centre",
            day(2025, 6, 30),
            ItemStatus.PLANNED,
        ),
        ("Ouvrir les conseils d'administration aux jeunes", "centre", day(2027, 6, 30), ItemStatus.PLANNED),
    ],
    "Modèle économique": [
        ("Établir un budget type d'un centre social villeurbannais", "villeurbanne", day(2025, 9, 30), ItemStatus.DONE),
        ("Mutualiser la fonction comptable entre centres", "centre", day(2026, 3, 31), ItemStatus.DROPPED),
    ],
}


def seed(builder, partners, structures):
    """Create the demo's agreements and funding; `partners`: the DemoBuilder's {key: Partner}."""
    main_rng, builder.rng = builder.rng, random.Random(f"agreements-{builder.seed}")
    try:
        load_default_schemes()
        schemes = {s.code: s for s in FundingScheme.objects.all()}
        for code, ceiling in DEMO_CEILINGS.items():
            SchemeYear.objects.filter(scheme=schemes[code], year__in=YEARS).update(ceiling=ceiling)
        for key, (code, name) in COMMUNES_13.items():
            short = name.removeprefix("Ville d'")
            partners[key] = builder.partner(name, short, PartnerKind.COMMUNE, communes=[code])
        admin, today, rng = builder.admin, builder.today, builder.rng
        framework = bouches_du_rhone(partners, admin)
        villeurbanne = [s for s in structures if s.commune_id == "69266" and s.kind == StructureKind.CENTRE_SOCIAL]
        villeurbanne = sorted(villeurbanne, key=lambda s: s.name)[:6]
        marseille_b = next(s for s in structures if s.commune.department_id == "13")  # structure B
        tripartite = villeurbanne_agreement(partners, villeurbanne, admin, today)
        marseille = marseille_agreement(framework, partners, marseille_b, admin)
        lines = []
        for structure in villeurbanne:
            lines += caf_service(structure, partners["caf69"], schemes, rng)
        lines += funding_actions.commit_multiyear(
            tripartite,
            actor=admin,
            partner=partners["villeurbanne"],
            scheme=schemes["subvention-convention-cadre"],
            amounts={year: Decimal("18000") for year in YEARS},
        )
        for structure in villeurbanne:
            if structure.priority_area_status == PriorityAreaStatus.IN_AREA:
                lines += [
                    FundingLine(
                        structure=structure,
                        partner=partners["prefecture69"],
                        year=year,
                        scheme=schemes["subvention-qpv"],
                        forecast=Decimal("9500"),
                    )
                    for year in YEARS
                ]
        others_13 = [s for s in structures if s.commune.department_id == "13" and s != marseille_b][:8]
        for structure in [marseille_b, *others_13]:
            lines += caf_service(structure, partners["caf13"], schemes, rng)
        lines += funding_actions.commit_multiyear(
            marseille,
            actor=admin,
            partner=partners["marseille"],
            scheme=schemes["subvention-convention-cadre"],
            amounts={year: Decimal("25000") for year in YEARS},
        )
        for structure in [marseille_b, *others_13[:4]]:
            lines += [
                FundingLine(
                    structure=structure,
                    partner=partners["department13"],
                    year=year,
                    scheme=schemes["subvention-convention-cadre"],
                    forecast=euros(Decimal(rng.randrange(6000, 15000, 500))),
                )
                for year in YEARS
            ]
        # An associative EVS not yet registered (neither SIRET nor RNA, see Builder.registry_numbers) that the
        # Département funds too: its SCDL page lists it before export, which leaves it out. Last, and at a fixed
        # amount, so that the draws of the lines above stay as they were.
        unregistered = next(
            (s for s in structures if s.commune.department_id == "13" and not s.siret and not s.rna), None
        )
        if unregistered is not None:
            lines += [
                FundingLine(
                    structure=unregistered,
                    partner=partners["department13"],
                    year=year,
                    scheme=schemes["subvention-convention-cadre"],
                    forecast=Decimal("4000"),
                )
                for year in YEARS
            ]
        for line in lines:
            if line.pk is None:
                line.full_clean()
                line.save_tracked(user=admin)
        for line in lines:
            vote_and_pay(line, admin, today, rng)
        deposit_documents(lines, admin, today, rng)
        pay_balances(lines, admin, today)
        qpv_envelope(partners["prefecture13"], schemes["subvention-qpv"], admin)
        governance(framework, partners, admin, today)
        signed = demo_pdf("Texte signé : document de démonstration")
        for record, field in ((framework, "framework"), (tripartite, "agreement")):
            Attachment.objects.create(
                **{field: record},
                kind=AttachmentKind.SIGNED,
                title="Convention signée",
                file_name="convention-signee.pdf",
                content_type="application/pdf",
                size=len(signed),
                sha256=hashlib.sha256(signed).hexdigest(),
                content=signed,
                uploaded_by=admin,
            )
        return {"agreements": Agreement.objects.count(), "funding_lines": len(lines)}
    finally:
        builder.rng = main_rng


def bouches_du_rhone(partners, admin):
    previous = FrameworkAgreement(
        title="Convention cadre des centres sociaux et espaces de vie sociale des Bouches-du-Rhône 2019-2023",
        department=Department.objects.get(code="13"),
        starts=day(2019, 1, 1),
        ends=day(2023, 12, 31),
        status=AgreementStatus.RENEWED,
        charter=CHARTER,
        values=VALUES,
        purposes=PURPOSES[:3],
    )
    previous.save_tracked(user=admin)
    signed = day(2019, 4, 11)
    for key, role in [
        ("prefecture13", SignatoryRole.CO_CHAIR),
        ("caf13", SignatoryRole.CO_CHAIR),
        ("department13", SignatoryRole.SIGNATORY),
        ("marseille", SignatoryRole.SIGNATORY),
        ("aix", SignatoryRole.SIGNATORY),
        ("federation13", SignatoryRole.SIGNATORY),
    ]:
        Signatory.objects.create(framework=previous, partner=partners[key], role=role, signed_on=signed)
    framework = FrameworkAgreement(
        title="Convention cadre des centres sociaux et espaces de vie sociale des Bouches-du-Rhône 2024-2027",
        department=previous.department,
        starts=day(2024, 1, 1),
        ends=day(2027, 12, 31),
        status=AgreementStatus.IN_FORCE,
        charter=CHARTER,
        values=VALUES,
        purposes=PURPOSES,
        previous=previous,
    )
    framework.save_tracked(user=admin)
    signed = day(2024, 3, 14)
    for key, role in [
        ("prefecture13", SignatoryRole.CO_CHAIR),
        ("caf13", SignatoryRole.CO_CHAIR),
        ("department13", SignatoryRole.SIGNATORY),
        ("metropolis13", SignatoryRole.SIGNATORY),
        ("marseille", SignatoryRole.SIGNATORY),
        ("arles", SignatoryRole.SIGNATORY),
        ("federation13", SignatoryRole.SIGNATORY),
    ]:
        Signatory.objects.create(framework=framework, partner=partners[key], role=role, signed_on=signed)
    agreement_actions.amend(
        framework,
        actor=admin,
        signed_on=day(2025, 6, 20),
        purpose="Entrée de la Ville d'Aubagne",
        joined=[partners["aubagne"]],
        amount_change=Decimal("20000.00"),
        description="La Ville d'Aubagne apporte 20 000 € par an aux deux centres sociaux de la commune.",
    )
    return framework


def villeurbanne_agreement(partners, centres, admin, today):
    agreement = Agreement(
        kind=AgreementKind.TRIPARTITE,
        title="Convention tripartite Ville de Villeurbanne, Caf du Rhône et centres sociaux 2024-2027",
        reference="VILLEURBANNE-CS-2024",
        commune=centres[0].commune,
        starts=day(2024, 1, 1),
        ends=day(2027, 12, 31),
        status=AgreementStatus.IN_FORCE,
    )
    agreement.full_clean()
    agreement.save_tracked(user=admin)
    signed = day(2024, 2, 6)
    for key in ("villeurbanne", "caf69"):
        agreement_actions.add_party(agreement, partner=partners[key], signed_on=signed)
    for centre in centres:
        agreement_actions.add_party(agreement, structure=centre, signed_on=signed)
    roadmap = agreement_actions.start_roadmap(agreement, actor=admin, title="Feuille de route 2024-2027")
    owners = {"villeurbanne": {"owner_partner": partners["villeurbanne"]}, "caf": {"owner_partner": partners["caf69"]}}
    for index, theme in enumerate(roadmap.themes.all()):
        for title, owner, due, status in ROADMAP[theme.name]:
            who = owners.get(owner) or {"owner_structure": centres[index % len(centres)]}
            item = RoadmapItem(theme=theme, title=title, due=due, status=status, **who)
            item.save_tracked(user=admin)
            if status in (ItemStatus.DONE, ItemStatus.IN_PROGRESS):
                ProgressNote.objects.create(
                    item=item,
                    written_on=min(due, today) - datetime.timedelta(days=30),
                    author=admin,
                    text="Point d'étape en comité technique : travail engagé avec les six centres.",
                )
    return agreement


def marseille_agreement(framework, partners, centre, admin):
    agreement = Agreement(
        framework=framework,
        kind=AgreementKind.STRUCTURE,
        title=f"Convention d'objectifs et de financement : {centre.name} 2024-2027",
        reference="CPO-13-2024-001",
        starts=day(2024, 1, 1),
        ends=day(2027, 12, 31),
        status=AgreementStatus.IN_FORCE,
    )
    agreement.full_clean()
    agreement.save_tracked(user=admin)
    for key in ("caf13", "marseille"):
        agreement_actions.add_party(agreement, partner=partners[key], signed_on=day(2024, 4, 2))
    agreement_actions.add_party(agreement, structure=centre, signed_on=day(2024, 4, 2))
    return agreement


def caf_service(structure, caf, schemes, rng):
    """The Caf's service funding of a structure each year: its project's scheme, and the families one
    for a centre social with a family project."""
    approved = set(structure.approvals.values_list("kind", flat=True))
    codes = ["ps-evs"] if structure.kind == StructureKind.EVS else ["ps-animation-globale"]
    if ApprovalKind.FAMILY_PROJECT in approved:
        codes.append("ps-animation-collective-familles")
    lines = []
    for code in codes:
        base = {"ps-animation-globale": 80000, "ps-animation-collective-familles": 22000, "ps-evs": 26000}[code]
        for year in YEARS:
            expenses = euros(Decimal(base) * Decimal(rng.uniform(0.8, 1.2)))
            lines.append(
                FundingLine(
                    structure=structure,
                    partner=caf,
                    scheme=schemes[code],
                    year=year,
                    eligible_expenses=expenses,
                    forecast=service_amount(schemes[code], year, expenses),
                )
            )
    return lines


def vote_and_pay(line, admin, today, rng):
    """Years past and this year: voted, then an advance in March and an instalment in September.
    Next years: forecast only; now and then a vote without payment yet. The balance comes later
    (pay_balances), once the documents the scheme requires are accepted."""
    decision = day(line.year, 2, rng.randint(3, 25))
    if decision > today:
        return
    line.voted = line.forecast
    line.decision_reference = f"DEC-{line.year}-{rng.randint(100, 999)}"
    line.decision_date = decision
    line.save_tracked(user=admin)
    if rng.random() < 0.1:
        return  # voted, not paid yet
    for kind, share, when in (
        (PaymentKind.ADVANCE, Decimal("0.5"), day(line.year, 3, 15)),
        (PaymentKind.INSTALMENT, Decimal("0.3"), day(line.year, 9, 15)),
    ):
        if when > today:
            return
        funding_actions.record_payment(line, actor=admin, kind=kind, amount=euros(line.voted * share), paid_on=when)


REFUSALS = {
    DocumentKind.ANNUAL_ACCOUNTS: (
        "Les comptes ne sont pas signés par le président ou la présidente : déposez la version signée."
    ),
    DocumentKind.FORECAST_BUDGET: "Le budget n'est pas équilibré : les charges dépassent les produits de 4 200 €.",
    DocumentKind.ACTIVITY_REPORT: "Le rapport ne couvre pas l'année entière : il s'arrête en septembre.",
    None: "Le fichier est illisible : déposez-le de nouveau.",
}


def deposit_documents(lines, admin, today, rng):
    """The documents owed for the lines' years, due by today, in every state: mostly accepted, some
    refused with a reason, some waiting for review, some never deposited."""
    owed = {}  # one deposit per structure, year and kind: it answers every scheme asking for it
    for line in lines:
        for required in line.scheme.required_documents.all():
            key = (line.structure.pk, line.year, required.share_key)
            if key not in owed or required.due_on(line.year) < owed[key][1].due_on(line.year):
                owed[key] = (line.structure, required, line.year)
    pdf = demo_pdf("Pièce de démonstration déposée dans Cadre")
    for _, (structure, required, year) in sorted(owed.items()):
        due = required.due_on(year)
        if due > today + datetime.timedelta(days=60):
            continue
        draw = rng.random()
        if draw < 0.09:
            continue  # never deposited
        upload = SimpleUploadedFile(f"{required.get_kind_display()} {year} - {structure.name}.pdf", pdf)
        document = funding_actions.deposit(structure, required, year, upload, actor=admin)
        uploaded = min(due, today) - datetime.timedelta(days=rng.randint(1, 40))
        Document.objects.filter(pk=document.pk).update(
            uploaded_at=datetime.datetime.combine(uploaded, datetime.time(10), tzinfo=datetime.UTC)
        )
        if draw < 0.17:
            continue  # waiting for review
        accept = draw >= 0.25
        reason = "" if accept else REFUSALS.get(required.kind, REFUSALS[None])
        funding_actions.review(document, actor=admin, accept=accept, reason=reason)


def pay_balances(lines, admin, today):
    """The balance of each line whose documents are accepted, paid on 20 September of the next year."""
    for line in lines:
        line.refresh_from_db()
        when = day(line.year + 1, 9, 20)
        if line.voted is None or when > today or not line.payments.exists() or missing_for_balance(line):
            continue
        left = line.voted - line.paid()
        if left > 0:
            funding_actions.record_payment(line, actor=admin, kind=PaymentKind.BALANCE, amount=left, paid_on=when)


def demo_pdf(text):
    """A one-page PDF saying `text` (written by hand: the demo needs no PDF engine for it)."""
    stream = f"BT /F1 14 Tf 72 770 Td ({text}) Tj ET".encode("cp1252")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def qpv_envelope(prefecture, scheme, admin):
    """The State's 2027 envelope for the structures of the priority areas of the Bouches-du-Rhône, in
    simulation: by population of the zone served, between 5,000 and 25,000 € each."""
    envelope = Envelope(
        partner=prefecture,
        scheme=scheme,
        year=2027,
        amount=Decimal("240000"),
        key=EnvelopeKey.SERVED_POPULATION,
        floor=Decimal("5000"),
        cap=Decimal("25000"),
    )
    envelope.full_clean()
    envelope.save_tracked(user=admin)
    funding_actions.simulate_envelope(envelope, list(funding_actions.eligible_structures(envelope)))
    return envelope


def governance(framework, partners, admin, today):
    """The Bouches-du-Rhône convention's steering committee (co-chaired by the State and the Caf), its
    technical committee and support cell; two steering meetings with decisions and their follow-ups;
    a SENACS data day to come and an exchange day past."""
    from cadre.accounts.models import User
    from cadre.demo import cast

    steering = Committee(
        framework=framework, kind=CommitteeKind.STEERING, name="Comité de pilotage de la convention cadre"
    )
    steering.mission = "Oriente la convention, arbitre les financements complémentaires, suit l'observatoire."
    steering.save_tracked(user=admin)
    members = {}
    for key, role, person in [
        ("prefecture13", MemberRole.CHAIR, "Anne Roussel"),
        ("caf13", MemberRole.CHAIR, "Karim Benali"),
        ("department13", MemberRole.MEMBER, ""),
        ("metropolis13", MemberRole.MEMBER, ""),
        ("marseille", MemberRole.MEMBER, ""),
        ("federation13", MemberRole.MEMBER, "Mehdi Haddad"),
    ]:
        members[key] = CommitteeMember.objects.create(
            committee=steering, partner=partners[key], role=role, person=person
        )
    technical = Committee(framework=framework, kind=CommitteeKind.TECHNICAL, name="Comité technique")
    technical.save_tracked(user=admin)
    support = Committee(framework=framework, kind=CommitteeKind.SUPPORT, name="Cellule d'appui aux structures")
    support.mission = "Examine les situations des structures en difficulté ; ses échanges sont confidentiels."
    support.save_tracked(user=admin)
    for key in ("caf13", "federation13", "prefecture13", "department13"):
        CommitteeMember.objects.create(committee=technical, partner=partners[key])
    for key in ("caf13", "federation13", "prefecture13"):
        CommitteeMember.objects.create(committee=support, partner=partners[key])
    tz = datetime.UTC
    first = Meeting(
        committee=steering,
        starts_at=datetime.datetime(2025, 3, 12, 9, 30, tzinfo=tz),
        place="Préfecture des Bouches-du-Rhône, Marseille",
        agenda="1. Bilan de l'observatoire 2024\n2. Financements complémentaires 2025\n3. Entrée de la Ville d'Aubagne",
        minutes="Le comité valide les orientations 2025 et l'entrée de la Ville d'Aubagne par avenant.",
    )
    first.save_tracked(user=admin, save_relations=lambda: first.present.set(list(members.values())[:5]))
    funding_decision = agreement_actions.add_decision(
        first,
        text="Les financements complémentaires 2025 sont reconduits au niveau de 2024.",
        follow_ups=[("Notifier les montants aux structures", partners["caf13"], day(2025, 4, 30))],
    )
    FollowUp.objects.filter(decision=funding_decision).update(done_on=day(2025, 4, 18))
    agreement_actions.add_decision(
        first,
        text="Un avenant fera entrer la Ville d'Aubagne dans la convention.",
        follow_ups=[("Rédiger l'avenant n° 1", partners["prefecture13"], day(2025, 6, 30))],
    )
    second = Meeting(
        committee=steering,
        starts_at=datetime.datetime(2026, 3, 10, 9, 30, tzinfo=tz),
        place="Caf des Bouches-du-Rhône, Marseille",
        agenda="1. Observatoire 2025\n2. Enveloppe QPV 2027\n3. Calendrier de renouvellement",
    )
    second.save_tracked(user=admin, save_relations=lambda: second.present.set(list(members.values())))
    agreement_actions.add_decision(
        second,
        text="La répartition de l'enveloppe QPV 2027 suivra la population des zones d'influence, avec un plancher.",
        follow_ups=[("Présenter la simulation de l'enveloppe QPV", partners["prefecture13"], day(2026, 6, 30))],
    )
    data_day = Event(
        framework=framework,
        kind=EventKind.DATA_DAY,
        title="Journée des données SENACS 2026",
        starts_at=datetime.datetime(today.year + 1, 2, 5, 9, 0, tzinfo=tz),
        place="Cité des associations, Marseille",
        description="Présentation de l'observatoire 2026, ateliers par territoire, échanges avec les structures.",
        capacity=80,
    )
    data_day.save_tracked(user=admin)
    for email in (cast.CAF13, cast.FEDERATION13, cast.STRUCTURE_B):
        Registration.objects.create(event=data_day, user=User.objects.get(email=email))
    past = Event(
        framework=framework,
        kind=EventKind.EXCHANGE_DAY,
        title="Journée d'échange des centres sociaux 2025",
        starts_at=datetime.datetime(2025, 11, 20, 9, 0, tzinfo=tz),
        place="Aix-en-Provence",
    )
    past.save_tracked(user=admin)
