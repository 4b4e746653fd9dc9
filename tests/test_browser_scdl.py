"""The SCDL review page in Chromium with a file as a Caf publishes it (1,500 rows over eleven years):
uploaded through the form, reviewed class by class with the keyboard, and audited by axe-core."""

import json

import pytest

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.funding.models import FundingScheme, SubsidyImport, SubsidyImportStatus
from cadre.partners.models import Partner
from cadre.structures.models import Structure
from tests import scdl_files
from tests.test_browser import AXE, audit, browser, log_in, page, site  # noqa: F401 — the module's fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = 1_500


def test_a_caf_reviews_a_file_of_1500_rows_class_by_class(page, site, tmp_path):  # noqa: F811
    if not AXE.exists():
        pytest.fail("axe-core absent : lancez « make browser-deps ».")
    caf = Partner.objects.get(short_name="Caf 69")
    advisor = User.objects.get(email=cast.CAF69)
    structures = list(Structure.objects.visible_to(advisor).values_list("pk", "name", "siret"))
    built = scdl_files.build(structures, ("Caf du Rhône", caf.siret), rows=ROWS, version="1.0", encoding="cp1252")
    file = tmp_path / "caf69-subventions-2014-2024.csv"
    file.write_bytes(built.content)

    log_in(page, site, cast.CAF69)
    page.goto(f"{site}/financements/partenaires/{caf.uuid}/scdl/")
    page.get_by_label("Fichier SCDL").set_input_files(str(file))
    page.get_by_label("Dispositif des lignes importées").select_option(
        str(FundingScheme.objects.get(code="subvention-projet").pk)
    )
    page.get_by_role("button", name="Lire le fichier").click()
    page.get_by_role("heading", name="Import SCDL : relecture").wait_for()
    subsidy_import = SubsidyImport.objects.get(partner=caf)
    assert subsidy_import.status == SubsidyImportStatus.READY and subsidy_import.row_count == ROWS

    # Every class is a link with its count; the numbers shown add up to the file.
    failures = {}
    shown = 0
    for label in ("À confirmer", "Non reconnues", "Reconnues par l’identifiant"):
        link = page.get_by_role("navigation", name="Lignes par classe").get_by_role("link", name=label)
        count = int("".join(ch for ch in link.inner_text() if ch.isdigit()))
        shown += count
        link.click()
        page.wait_for_url(lambda url: "classe=" in url)
        failures[label] = audit(page)
        # A page of the class at most, with its pagination when there are more.
        if count > 50:
            assert page.get_by_role("navigation", name="Pagination").is_visible()
        # The confirmation stays in reach from the keyboard whatever the class shown.
        confirm = page.get_by_role("button", name="Confirmer l’import")
        confirm.focus()
        assert page.evaluate("document.activeElement.textContent").strip().startswith("Confirmer l’import")
    assert shown <= ROWS and shown > ROWS // 2
    failures = {label: found for label, found in failures.items() if found}
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=2)
