"""The registry from a spreadsheet: structures, their approvals and contacts, partners and their territory."""

import datetime
import io

import openpyxl
import pytest
from django.test import override_settings
from django.urls import reverse
from stdnum import luhn

from cadre.accounts.models import Role
from cadre.core.history import diff_records, m2m_rows
from cadre.exchanges import registry
from cadre.exchanges.actions import ImportRefused, apply_registry_import, record_registry_import
from cadre.exchanges.models import ImportStatus, RegistryImport
from cadre.partners.models import Partner, PartnerKind
from cadre.structures.models import Approval, ApprovalKind, PriorityAreaStatus, Structure, StructureContact
from cadre.territories.models import Commune
from tests.factories import ApprovalFactory, PartnerFactory, StructureFactory, UserFactory, member

pytestmark = pytest.mark.django_db

HEADERS = [c.header for c in registry.STRUCTURE_COLUMNS]


def siret(number):
    """A valid SIRET (SIREN and SIRET keys), different for each number."""
    siren = f"{number:08d}"
    siren += luhn.calc_check_digit(siren)
    body = siren + "0001"
    return body + luhn.calc_check_digit(body)


def line(**values):
    """A row of the structures file, by column key."""
    base = {
        "siret": siret(1),
        "name": "Centre social Les Buers",
        "kind": "Centre social",
        "management": "Associatif",
        "commune": "69266",
        "postal_code": "69100",
    }
    base.update(values)
    return [base.get(c.key, "") for c in registry.STRUCTURE_COLUMNS]


def csv_file(rows, headers=HEADERS, delimiter=";", encoding="utf-8"):
    text = "\r\n".join(delimiter.join(str(v) for v in row) for row in [headers, *rows]) + "\r\n"
    return text.encode(encoding)


def xlsx_file(rows, headers=HEADERS):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def admin():
    return UserFactory(email="admin@exemple.fr", is_superuser=True)


@pytest.fixture
def caf69():
    caf = PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, departments=["69"])
    return member(UserFactory(email="conseillere@caf69.fr"), caf, Role.EDITOR)


def check(user, content, name="registre.csv", target=registry.STRUCTURES):
    return record_registry_import(target, user, name, content)


def errors_of(registry_import):
    return [(e["row"], e["header"], e["reason"]) for e in registry_import.report["errors"]]


class TestStructures:
    def test_a_valid_file_creates_structures_approvals_and_contacts(self, caf69):
        rows = [
            line(
                priority_area_status="Implantée dans un QPV",
                priority_areas="QN06921M",
                approval_starts="01/01/2025",
                approval_ends="31/12/2028",
                family_starts="2025-01-01",
                family_ends="31/12/2026",
                contact_name="Awa Diallo",
                contact_position="directrice",
                contact_email="direction@buers.fr",
            ),
            line(siret=siret(2), name="EVS Parilly", kind="evs", commune="Vénissieux", postal_code=""),
        ]
        imported = check(caf69, xlsx_file(rows), "registre.xlsx")
        assert imported.status == ImportStatus.READY, errors_of(imported)
        assert Structure.objects.count() == 0  # the dry run writes nothing
        apply_registry_import(imported, actor=caf69)
        buers = Structure.objects.get(siret=siret(1))
        assert buers.commune_id == "69266" and buers.priority_area_status == PriorityAreaStatus.IN_AREA
        assert list(buers.priority_areas.values_list("code", flat=True)) == ["QN06921M"]
        assert {(a.kind, a.starts, a.ends) for a in buers.approvals.all()} == {
            (ApprovalKind.SOCIAL_PROJECT, datetime.date(2025, 1, 1), datetime.date(2028, 12, 31)),
            (ApprovalKind.FAMILY_PROJECT, datetime.date(2025, 1, 1), datetime.date(2026, 12, 31)),
        }
        contact = buers.contacts.get()
        assert (contact.name, contact.position, contact.email) == ("Awa Diallo", "directrice", "direction@buers.fr")
        assert Structure.objects.get(siret=siret(2)).commune_id == "69259"
        # Each record has its history entry, by the importer, QPV included (the history diffs them).
        record = buers.history.get()
        assert record.history_user == caf69 and record.history_change_reason == "Import du répertoire"
        assert {row.priorityarea_id for row in m2m_rows(record, Structure._meta.get_field("priority_areas"))} == {
            "QN06921M"
        }
        imported.refresh_from_db()
        assert imported.status == ImportStatus.APPLIED and imported.created_count == 2

    def test_cp1252_semicolon_csv(self, admin):
        content = csv_file(
            [line(name="Maison pour tous Élan", manager_name="Association « Trait d'union »")], encoding="cp1252"
        )
        imported = check(admin, content)
        assert imported.is_ready, errors_of(imported)
        assert "Windows-1252" in imported.report["description"]
        apply_registry_import(imported, actor=admin)
        assert Structure.objects.get().name == "Maison pour tous Élan"

    def test_comma_and_tab_separated_files_with_bom(self, admin):
        for delimiter in (",", "\t"):
            content = b"\xef\xbb\xbf" + csv_file([line()], delimiter=delimiter)
            assert check(admin, content).is_ready

    def test_every_bad_cell_is_reported_at_its_row_and_column(self, admin):
        # Châtillon (69050) is in the Rhône: a second one makes the name ambiguous.
        Commune.objects.create(code="13997", name="Châtillon", department_id="13", postal_codes="13997")
        rows = [
            line(siret="12345678901234"),
            line(siret=siret(3), commune="Ville-Imaginaire"),
            line(siret=siret(4), commune="Châtillon", postal_code=""),
            line(siret=siret(5), priority_area_status="in_area", priority_areas="QN99999Z"),
            line(siret=siret(6), priority_area_status="Sans lien avec un QPV", priority_areas="QN06921M"),
            line(siret=siret(7), approval_starts="31/02/2025", approval_ends="31/12/2028"),
            line(siret=siret(8), kind="Crèche"),
            line(siret=siret(9), rna="W12"),
            line(siret=siret(10), priority_area_status="serves_area", priority_areas="QN01301M"),
        ]
        imported = check(admin, csv_file(rows))
        assert imported.status == ImportStatus.DRY_RUN_FAILED
        found = {(row, header): reason for row, header, reason in errors_of(imported)}
        assert found[(2, "SIRET")].startswith("SIRET invalide « 12345678901234 »")
        assert found[(3, "Commune")].startswith("commune inconnue « Ville-Imaginaire »")
        assert found[(4, "Commune")] == (
            "2 communes s'appellent « Châtillon » : indiquez le code postal ou le code INSEE (codes INSEE 13997 (13), "
            "69050 (69))."
        )
        assert found[(5, "Codes QPV")].startswith("QPV inconnu : QN99999Z")
        assert found[(6, "Codes QPV")] == "Une structure sans lien avec un QPV ne peut pas avoir de QPV rattaché."
        assert found[(7, "Agrément : début")].startswith("date illisible « 31/02/2025 »")
        assert found[(8, "Type de structure")].startswith("valeur inconnue « Crèche » : les valeurs possibles")
        assert found[(9, "Numéro RNA")].startswith("numéro RNA invalide")
        assert "dans un autre département" in found[(10, "Codes QPV")]
        assert imported.report["errors"][0]["text"].startswith("Ligne 2, colonne A (SIRET) : SIRET invalide")
        assert Structure.objects.count() == 0 and imported.pending is None

    def test_a_postal_code_chooses_among_communes_of_the_same_name(self, admin):
        Commune.objects.create(code="13997", name="Châtillon", department_id="13", postal_codes="13997")
        Commune.objects.create(code="13996", name="Châtillon", department_id="13", postal_codes="13996")
        imported = check(admin, csv_file([line(commune="Chatillon", postal_code="13996")]))
        assert imported.is_ready, errors_of(imported)
        apply_registry_import(imported, actor=admin)
        assert Structure.objects.get().commune_id == "13996"

    def test_one_bad_cell_writes_nothing_at_all(self, admin):
        rows = [line(siret=siret(n), name=f"Centre {n}") for n in range(1, 30)]
        rows.append(line(siret=siret(99), email="pas-une-adresse"))
        imported = check(admin, csv_file(rows))
        assert errors_of(imported) == [(31, "Courriel", "adresse électronique invalide « pas-une-adresse ».")]
        with pytest.raises(ImportRefused):
            apply_registry_import(imported, actor=admin)
        assert Structure.objects.count() == 0

    def test_an_update_reports_before_and_after_and_writes_only_changed_fields(self, admin):
        structure = StructureFactory(
            siret=siret(1),
            name="Centre social Les Buers",
            phone="04 78 00 00 00",
            postal_code="69100",
            priority_area_status="in_area",
        )
        structure.save_tracked(save_relations=lambda: structure.priority_areas.set(["QN06921M"]))
        approval = ApprovalFactory(
            structure=structure, starts=datetime.date(2024, 1, 1), ends=datetime.date(2026, 12, 31)
        )
        StructureContact.objects.create(structure=structure, name="Awa Diallo", position="directrice")
        rows = [
            line(
                name="Centre social des Buers",
                phone="",
                approval_starts="01/01/2024",
                approval_ends="31/12/2027",
                contact_name="awa diallo",
                contact_position="directrice générale",
            )
        ]
        imported = check(admin, csv_file(rows))
        assert imported.is_ready, errors_of(imported)
        changes = {(c["label"], c["before"], c["after"]) for c in imported.report["changes"]}
        assert ("nom", "Centre social Les Buers", "Centre social des Buers") in changes
        assert (
            "Animation globale (projet social) du 01/01/2024 : fin",
            "31/12/2026",
            "31/12/2027",
        ) in changes
        assert ("Contact Awa Diallo : fonction", "directrice", "directrice générale") in changes
        assert not any(c[0] == "téléphone" for c in changes)  # a blank cell leaves the value
        assert imported.updated_count == 1 and imported.created_count == 0
        apply_registry_import(imported, actor=admin)
        structure.refresh_from_db()
        approval.refresh_from_db()
        assert (structure.name, structure.phone, structure.version) == ("Centre social des Buers", "04 78 00 00 00", 3)
        assert approval.ends == datetime.date(2027, 12, 31) and approval.version == 2
        assert structure.contacts.get().position == "directrice générale"
        record = structure.history.latest("history_date")
        assert record.history_type == "~" and record.history_user == admin
        # The history reads the same change (and no QPV change the import did not make).
        assert [(c["label"], c["seen"], c["current"]) for c in diff_records(record.prev_record, record)] == [
            ("nom", "Centre social Les Buers", "Centre social des Buers")
        ]

    def test_an_unchanged_file_changes_nothing(self, admin):
        StructureFactory(siret=siret(1), name="Centre social Les Buers", postal_code="69100")
        imported = check(admin, csv_file([line()]))
        assert imported.is_ready and imported.report["unchanged"] == 1 and imported.report["changed"] == 0

    def test_an_edit_made_after_the_dry_run_refuses_the_import(self, admin):
        structure = StructureFactory(siret=siret(1), name="Ancien nom")
        imported = check(admin, csv_file([line(name="Nouveau nom")]))
        structure.name = "Renommée entre-temps"
        structure.save_tracked(expected_version=1, user=admin)
        with pytest.raises(ImportRefused, match="le répertoire a changé"):
            apply_registry_import(imported, actor=admin)
        structure.refresh_from_db()
        assert structure.name == "Renommée entre-temps"
        imported.refresh_from_db()
        assert imported.status == ImportStatus.DRY_RUN_FAILED
        assert "a été modifiée depuis la vérification" in imported.report["errors"][0]["reason"]

    def test_an_approval_changed_after_the_dry_run_refuses_the_import(self, admin):
        structure = StructureFactory(siret=siret(1))
        approval = ApprovalFactory(
            structure=structure, starts=datetime.date(2024, 1, 1), ends=datetime.date(2026, 12, 31)
        )
        imported = check(admin, csv_file([line(approval_starts="01/01/2024", approval_ends="31/12/2027")]))
        assert imported.is_ready
        approval.notes = "Revu en commission"
        approval.save_tracked(expected_version=1, user=admin)
        with pytest.raises(ImportRefused):
            apply_registry_import(imported, actor=admin)
        approval.refresh_from_db()
        assert approval.ends == datetime.date(2026, 12, 31)
        imported.refresh_from_db()
        assert imported.report["errors"][0]["reason"].startswith("un agrément a été modifié depuis la vérification")

    def test_two_imports_creating_the_same_siret_cannot_both_apply(self, admin):
        first = check(admin, csv_file([line(name="Premier")]))
        second = check(admin, csv_file([line(name="Second")]))
        apply_registry_import(first, actor=admin)
        with pytest.raises(ImportRefused):
            apply_registry_import(second, actor=admin)
        assert Structure.objects.get().name == "Premier"
        with pytest.raises(ImportRefused, match="déjà été appliqué"):
            apply_registry_import(first, actor=admin)

    def test_rows_outside_the_importers_scope_are_refused(self, caf69):
        marseille = line(siret=siret(2), commune="13203", postal_code="")
        imported = check(caf69, csv_file([line(), marseille]))
        assert errors_of(imported) == [
            (
                3,
                "Commune",
                "cette structure serait hors de votre périmètre : choisissez une commune de votre territoire (ou "
                "votre fédération d'adhésion).",
            )
        ]

    def test_a_federation_imports_its_member_structures(self):
        federation = PartnerFactory(
            name="Fédération des centres sociaux du Rhône", short_name="FCS 69", kind=PartnerKind.FEDERATION
        )
        editor = member(UserFactory(), federation, Role.EDITOR)
        content = csv_file([line(federation="fcs 69"), line(siret=siret(2), name="Hors fédération")])
        imported = check(editor, content)
        assert [(row, header) for row, header, _ in errors_of(imported)] == [(3, "Commune")]
        imported = check(editor, csv_file([line(federation="FCS 69")]))
        apply_registry_import(imported, actor=editor)
        assert Structure.objects.get().federation == federation

    def test_an_unknown_federation(self, admin):
        imported = check(admin, csv_file([line(federation="Fédération imaginaire")]))
        assert errors_of(imported) == [
            (
                2,
                "Fédération d'adhésion",
                "aucune fédération partenaire ne s'appelle « Fédération imaginaire » (nom, sigle ou SIRET).",
            )
        ]

    def test_codes_typed_as_numbers_keep_their_zeros_and_the_help_line_is_skipped(self, admin):
        help_line = [registry._help_line(c) for c in registry.STRUCTURE_COLUMNS]
        assert siret(1).startswith("0000000")
        row = line(siret=int(siret(1)), commune=13203, postal_code=13003)
        imported = check(admin, xlsx_file([help_line, row]), "registre.xlsx")
        assert imported.is_ready, errors_of(imported)
        assert imported.row_count == 1
        apply_registry_import(imported, actor=admin)
        assert Structure.objects.get().siret == siret(1)

    def test_only_the_caf_records_approvals(self):
        federation = PartnerFactory(kind=PartnerKind.FEDERATION, departments=["69"])
        editor = member(UserFactory(), federation, Role.EDITOR)
        StructureFactory(siret=siret(1), federation=federation)
        imported = check(editor, csv_file([line(approval_starts="01/01/2025", approval_ends="31/12/2028")]))
        assert errors_of(imported) == [
            (2, "Agrément : début", "seuls la Caf du territoire et les administrateurs enregistrent les agréments.")
        ]

    def test_an_overlapping_approval_is_refused(self, admin):
        structure = StructureFactory(siret=siret(1))
        ApprovalFactory(structure=structure, starts=datetime.date(2024, 1, 1), ends=datetime.date(2027, 12, 31))
        imported = check(admin, csv_file([line(approval_starts="01/01/2025", approval_ends="31/12/2028")]))
        assert (
            errors_of(imported)[0][2] == "cette période chevauche un autre agrément du même type pour cette structure."
        )

    def test_missing_required_columns_and_unknown_columns(self, admin):
        imported = check(admin, csv_file([["x", "y"]], headers=["SIRET", "Couleur"]))
        reasons = [e[2] for e in errors_of(imported)]
        assert "colonne inconnue « Couleur » : voir le modèle." in reasons
        assert "la colonne « Commune » manque (voir le modèle)." in reasons

    def test_two_thousand_rows_one_bad_cell_then_corrected(self, admin):
        rows = [
            line(
                siret=siret(n),
                name=f"Centre {n}",
                approval_starts="01/01/2025",
                approval_ends="31/12/2028",
                contact_name=f"Personne {n}",
            )
            for n in range(1, 2001)
        ]
        rows[1233][HEADERS.index("Commune")] = "Villeurbane"
        imported = check(admin, xlsx_file(rows), "registre.xlsx")
        assert [(row, header) for row, header, _ in errors_of(imported)] == [(1235, "Commune")]
        assert imported.pending is None
        rows[1233][HEADERS.index("Commune")] = "Villeurbanne"
        imported = check(admin, xlsx_file(rows), "registre.xlsx")
        assert imported.is_ready and imported.created_count == 2000
        apply_registry_import(imported, actor=admin)
        assert Structure.objects.count() == 2000
        assert Approval.objects.count() == 2000 and StructureContact.objects.count() == 2000

    @override_settings(CADRE_IMPORT_INLINE_MAX_BYTES=10, CADRE_REGISTRY_INLINE_MAX_ROWS=1)
    def test_a_large_file_goes_through_the_worker(self, client, admin):
        """The test settings run tasks at once: the upload is checked by the task, the click applied by it."""
        client.force_login(admin)
        content = csv_file([line(siret=siret(n), name=f"Centre {n}") for n in range(1, 4)])
        response = client.post(
            reverse("exchanges:registry_structures"), {"file": _upload("grand.csv", content)}, follow=True
        )
        imported = RegistryImport.objects.get()
        assert imported.is_ready and imported.progress == 100
        assert "Le fichier est correct" in response.content.decode()
        response = client.post(reverse("exchanges:registry_import_apply", args=[imported.uuid]), follow=True)
        imported.refresh_from_db()
        assert imported.is_applied and Structure.objects.count() == 3


def test_the_page_follows_the_worker(client, admin):
    """While the worker checks a file, its page says so and htmx asks again for the state alone."""
    imported = RegistryImport.objects.create(
        target=registry.STRUCTURES,
        file_name="grand.xlsx",
        content=b"x",
        sha256="0",
        uploaded_by=admin,
        status=ImportStatus.CHECKING,
        progress=40,
    )
    client.force_login(admin)
    url = reverse("exchanges:registry_import_detail", args=[imported.uuid])
    page = client.get(url).content.decode()
    assert "Vérification du fichier en cours" in page and 'value="40"' in page and f'hx-get="{url}"' in page
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<div id="import-state"') and "<html" not in fragment


def _upload(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="text/csv")


class TestPages:
    def test_upload_report_and_apply(self, client, caf69):
        client.force_login(caf69)
        response = client.get(reverse("structures:list"))
        assert reverse("exchanges:registry_structures") in response.content.decode()
        response = client.post(
            reverse("exchanges:registry_structures"), {"file": _upload("r.csv", csv_file([line()]))}, follow=True
        )
        page = response.content.decode()
        assert "Le fichier est correct" in page and "Nouvelle structure" in page
        imported = RegistryImport.objects.get()
        response = client.post(reverse("exchanges:registry_import_apply", args=[imported.uuid]), follow=True)
        assert "L&#x27;import est appliqué : 1 création, 0 mise à jour." in response.content.decode()
        assert Structure.objects.filter(siret=siret(1)).exists()

    def test_errors_are_listed_on_the_page(self, client, admin):
        client.force_login(admin)
        response = client.post(
            reverse("exchanges:registry_structures"),
            {"file": _upload("r.csv", csv_file([line(siret="123")]))},
            follow=True,
        )
        page = response.content.decode()
        assert "1 erreur : rien n’a été importé" in page and "SIRET invalide" in page

    def test_the_template_has_french_headers_and_allowed_values(self, client, admin):
        client.force_login(admin)
        response = client.get(reverse("exchanges:registry_structures_template"))
        workbook = openpyxl.load_workbook(io.BytesIO(response.content))
        assert workbook.sheetnames[:2] == ["Structures", "Valeurs autorisées"]
        assert [c.value for c in workbook["Structures"][1]] == HEADERS
        values = {(r[0], r[1]) for r in workbook["Valeurs autorisées"].iter_rows(min_row=2, values_only=True)}
        assert ("Type de structure", "Espace de vie sociale") in values
        assert ("Agrément : type", "Animation collective familles (projet familles)") in values
        assert ("Mode de gestion", "Collectivité territoriale") in values

    def test_the_template_read_back_with_its_help_row_removed_is_valid(self, admin):
        workbook = openpyxl.load_workbook(io.BytesIO(registry.template_xlsx(registry.STRUCTURES)))
        workbook["Structures"].delete_rows(2)
        workbook["Structures"].append(line())
        buffer = io.BytesIO()
        workbook.save(buffer)
        assert check(admin, buffer.getvalue(), "modele.xlsx").is_ready

    def test_who_sees_the_import_button(self, client):
        structure = StructureFactory()
        client.force_login(member(UserFactory(), structure, Role.MANAGER))
        assert reverse("exchanges:registry_structures") not in client.get(reverse("structures:list")).content.decode()
        assert client.get(reverse("exchanges:registry_structures")).status_code == 403

    def test_only_the_uploader_applies(self, client, admin, caf69):
        imported = check(caf69, csv_file([line()]))
        client.force_login(admin)
        assert client.get(reverse("exchanges:registry_import_detail", args=[imported.uuid])).status_code == 200
        assert client.post(reverse("exchanges:registry_import_apply", args=[imported.uuid])).status_code == 403
        client.force_login(UserFactory())
        assert client.get(reverse("exchanges:registry_import_detail", args=[imported.uuid])).status_code == 404


PARTNER_HEADERS = [c.header for c in registry.PARTNER_COLUMNS]


def partner_line(**values):
    base = {"name": "Ville de Vénissieux", "kind": "Commune", "communes": "69259"}
    base.update(values)
    return [base.get(c.key, "") for c in registry.PARTNER_COLUMNS]


class TestPartners:
    def test_partners_with_their_territory(self, admin):
        existing = PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, siret=siret(50), departments=["69"])
        rows = [
            partner_line(),
            partner_line(siret=siret(50), name="Caf du Rhône", kind="caf", departments="69, 13", communes=""),
        ]
        imported = check(admin, csv_file(rows, PARTNER_HEADERS), target=registry.PARTNERS)
        assert imported.is_ready, errors_of(imported)
        assert ("départements couverts", "69", "13, 69") in {
            (c["label"], c["before"], c["after"]) for c in imported.report["changes"]
        }
        apply_registry_import(imported, actor=admin)
        city = Partner.objects.get(name="Ville de Vénissieux")
        assert city.kind == PartnerKind.COMMUNE and list(city.communes.values_list("code", flat=True)) == ["69259"]
        existing.refresh_from_db()
        assert sorted(existing.departments.values_list("code", flat=True)) == ["13", "69"]
        assert existing.version == 2

    def test_bad_partner_cells(self, admin):
        rows = [partner_line(kind="Banque", departments="99", communes="00000")]
        imported = check(admin, csv_file(rows, PARTNER_HEADERS), target=registry.PARTNERS)
        found = {header: reason for _, header, reason in errors_of(imported)}
        assert found["Type de partenaire"].startswith("valeur inconnue « Banque »")
        assert found["Départements couverts"] == "département inconnu : 99."
        assert found["Communes couvertes"] == "aucune commune n'a le code INSEE 00000."

    def test_the_partners_template(self, admin):
        workbook = openpyxl.load_workbook(io.BytesIO(registry.template_xlsx(registry.PARTNERS)))
        assert [c.value for c in workbook["Partenaires"][1]] == PARTNER_HEADERS
        values = {(r[0], r[1]) for r in workbook["Valeurs autorisées"].iter_rows(min_row=2, values_only=True)}
        assert ("Type de partenaire", "Fédération des centres sociaux") in values

    def test_a_partner_changed_after_the_dry_run_refuses_the_import(self, admin):
        partner = PartnerFactory(name="Ville de Vénissieux", kind=PartnerKind.COMMUNE)
        imported = check(
            admin, csv_file([partner_line(phone="04 72 21 44 44")], PARTNER_HEADERS), target=registry.PARTNERS
        )
        assert imported.updated_count == 1
        partner.phone = "04 00 00 00 00"
        partner.save_tracked(expected_version=1, user=admin)
        with pytest.raises(ImportRefused):
            apply_registry_import(imported, actor=admin)
        partner.refresh_from_db()
        assert partner.phone == "04 00 00 00 00"

    def test_only_administrators_import_partners(self, client, caf69):
        client.force_login(caf69)
        assert client.get(reverse("exchanges:registry_partners")).status_code == 403
        assert client.get(reverse("exchanges:registry_partners_template")).status_code == 403
