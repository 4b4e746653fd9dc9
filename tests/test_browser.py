"""Real Chromium (Debian's) against a live server: the journeys of the foundation, and axe-core."""

import json
import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.observatory.models import Questionnaire
from cadre.structures.models import Structure
from tests import otp
from tests.conftest import DEMO

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).resolve().parent.parent / ".cache/axe/node_modules/axe-core/axe.min.js"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium de Debian absent : lancez « make browser-deps » (apt-get install chromium).")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def site(live_server):
    # Transactional tests start from an empty database: geography and the demo each time.
    DEMO.apply()
    return live_server.url


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def log_in(page, site, email):
    user = User.objects.get(email=email)
    # Accounts that must use two-factor have an authenticator here, and give its code after the password.
    device = otp.authenticator(user) if user.requires_two_factor else None
    page.goto(f"{site}/compte/connexion/")
    page.get_by_role("textbox", name="Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(cast.PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    if device is not None:
        page.get_by_label("Code de vérification").fill(otp.unused_code(device))
        page.get_by_role("button", name="Vérifier").click()
    page.wait_for_url(f"{site}/")


def test_caf_advisor_filters_opens_edits_and_sees_history(page, site):
    log_in(page, site, cast.CAF69)
    page.get_by_role("link", name="Structures", exact=True).first.click()
    page.get_by_label("Département").select_option("69")
    page.wait_for_url(re.compile(r"department=69"))
    with page.expect_response(re.compile(r"qpv=yes")):
        page.get_by_label("Politique de la ville").select_option("yes")
    page.wait_for_load_state("networkidle")
    expected = Structure.objects.filter(commune__department_id="69").exclude(priority_area_status="none").count()
    assert expected > 0
    assert page.get_by_role("status").first.inner_text().startswith(str(expected))
    rows = page.locator("#results tbody tr")
    assert rows.count() == min(expected, 25)
    assert all("(69)" in text for text in rows.locator("td:nth-child(3)").all_inner_texts())

    first = rows.first.get_by_role("link")
    name = first.inner_text()
    first.click()
    page.get_by_role("heading", level=1, name=name).wait_for()
    page.get_by_role("link", name="Modifier la fiche").click()
    page.get_by_label("Téléphone").fill("04 72 00 00 01")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("Les modifications ont été enregistrées.").wait_for()
    # The history loads once its section comes into view.
    page.get_by_role("heading", name="Historique des modifications").scroll_into_view_if_needed()
    history = page.locator("#history-title + .fr-table")
    assert "04 72 00 00 01" in history.inner_text()
    assert User.objects.get(email=cast.CAF69).display_name in history.inner_text()


def test_editor_of_b_cannot_reach_structure_a(page, site):
    structure_a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    log_in(page, site, cast.STRUCTURE_B)
    page.goto(f"{site}/structures/")
    assert structure_a.name not in page.locator("#results").inner_text()
    response = page.goto(f"{site}/structures/{structure_a.uuid}/")
    assert response.status == 404
    assert structure_a.name not in page.content()


def audit(page):
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations'], "
        "runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "targets": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def test_main_pages_pass_axe(page, site):
    if not AXE.exists():
        pytest.fail("axe-core absent : lancez « make browser-deps ».")
    structure = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    call_command("load_questionnaire")
    questionnaire = Questionnaire.objects.get(code="senacs")
    public_pages = ["/", "/compte/connexion/", "/annuaire/", f"/annuaire/{structure.uuid}/", "/accessibilite/"]
    public_pages.append("/donnees-personnelles/")
    private_pages = [
        "/structures/?department=69",
        f"/structures/{structure.uuid}/",
        f"/structures/{structure.uuid}/historique/",
        f"/structures/{structure.uuid}/modifier/",
        f"/structures/{structure.uuid}/agrements/nouveau/",
        "/structures/nouvelle/",
        "/partenaires/",
        f"/partenaires/{structure.federation.uuid if structure.federation else ''}/"
        if structure.federation
        else "/partenaires/",
        "/compte/",
        "/compte/mes-donnees/",
        "/compte/supprimer/",
        "/donnees-personnelles/",
        f"/structures/contacts/donnees-personnelles/?q={structure.name}",
        "/observatoire/questionnaires/",
        f"/observatoire/questionnaires/{questionnaire.uuid}/",
        *observatory_pages(),
        *indicator_pages(structure),
        *agreement_pages(structure),
    ]
    public_pages += open_data_pages()
    failures = {}
    for path in public_pages:
        page.goto(site + path)
        failures[path] = audit(page)
    log_in(page, site, cast.ADMIN)
    for path in private_pages:
        page.goto(site + path)
        failures[path] = audit(page)
    failures = {path: found for path, found in failures.items() if found}
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=2)


def agreement_pages(structure):
    """The demo's conventions and funding: the Bouches-du-Rhône framework, the Villeurbanne tripartite
    agreement and its roadmap, structure A's funding and one of its lines, the Caf du Rhône's page."""
    from cadre.agreements.models import Agreement, Committee, Event, FrameworkAgreement, Meeting, RoadmapItem
    from cadre.funding.models import Envelope, FundingLine, FundingScheme

    framework = FrameworkAgreement.objects.get(department_id="13", starts__year=2024)
    tripartite = Agreement.objects.get(kind="tripartite")
    line = FundingLine.objects.filter(structure=structure, voted__isnull=False).first()
    item = RoadmapItem.objects.filter(theme__roadmap__agreement=tripartite).first()
    scheme = FundingScheme.objects.get(code="ps-animation-globale")
    return [
        "/conventions/",
        f"/conventions/cadres/{framework.uuid}/",
        f"/conventions/cadres/{framework.uuid}/avenants/nouveau/",
        f"/conventions/{tripartite.uuid}/",
        "/conventions/feuilles-de-route/en-retard/",
        "/conventions/nouvelle/",
        "/conventions/instances/",
        f"/conventions/cadres/{framework.uuid}/instances/nouvelle/",
        f"/conventions/cadres/{framework.uuid}/evenements/nouveau/",
        *[f"/conventions/instances/{c.uuid}/" for c in Committee.objects.filter(kind="steering")[:1]],
        *[f"/conventions/reunions/{m.uuid}/" for m in Meeting.objects.all()[:1]],
        *[f"/conventions/evenements/{e.uuid}/" for e in Event.objects.all()[:1]],
        "/conventions/cadres/nouvelle/",
        f"/conventions/{tripartite.uuid}/parties/nouvelle/",
        f"/conventions/{tripartite.uuid}/feuille-de-route/actions/nouvelle/",
        f"/conventions/feuilles-de-route/actions/{item.uuid}/",
        f"/financements/structures/{structure.uuid}/",
        f"/financements/structures/{structure.uuid}/nouvelle-ligne/",
        f"/financements/structures/{structure.uuid}/pieces/",
        "/financements/pieces/en-retard/",
        "/financements/calendrier/",
        "/financements/enveloppes/",
        "/financements/enveloppes/nouvelle/",
        *[f"/financements/enveloppes/{e.uuid}/" for e in Envelope.objects.all()[:1]],
        f"/financements/partenaires/{line.partner.uuid}/",
        f"/financements/partenaires/{line.partner.uuid}/scdl/",
        f"/financements/conventions/{tripartite.uuid}/",
        f"/financements/lignes/{line.uuid}/",
        f"/financements/lignes/{line.uuid}/modifier/",
        "/financements/dispositifs/",
        f"/financements/dispositifs/{scheme.uuid}/",
    ]


def observatory_pages():
    from cadre.observatory.models import Submission

    submission = current_submission_of_a()
    campaign = submission.campaign
    sent = Submission.objects.filter(campaign=campaign, status__in=["submitted", "resubmitted"]).first()
    pages = [
        "/observatoire/",
        f"/observatoire/campagnes/{campaign.uuid}/",
        "/observatoire/campagnes/nouvelle/",
        f"/observatoire/campagnes/{campaign.uuid}/modifier/",
        f"/observatoire/campagnes/{campaign.uuid}/correspondants/",
        f"/observatoire/saisies/{submission.uuid}/",
        f"/observatoire/saisies/{submission.uuid}/rubriques/gouvernance/",
        f"/observatoire/saisies/{submission.uuid}/rubriques/finances/",
        f"/observatoire/saisies/{submission.uuid}/imprimer/",
        f"/echanges/campagnes/{campaign.uuid}/import/",
    ]
    if sent is not None:
        pages += [f"/observatoire/saisies/{sent.uuid}/", f"/observatoire/saisies/{sent.uuid}/renvoyer/"]
    return pages


def indicator_pages(structure):
    """The indicators of the demo (its 2024 campaign is validated), a report and a prepared PDF, an import at work."""
    from cadre.accounts.models import User
    from cadre.exchanges.models import AnswerImport, ImportStatus
    from cadre.indicators.models import ExportStatus, Indicator, ReportExport

    call_command("load_indicators")
    indicator = Indicator.objects.current().get(code="pa312_permanences")
    admin = User.objects.get(email=cast.ADMIN)
    export = ReportExport.objects.create(
        level="department", territory="69", year=2024, requested_by=admin, status=ExportStatus.RUNNING, progress=50
    )
    campaign = current_submission_of_a().campaign
    checking = AnswerImport.objects.create(
        campaign=campaign,
        file_name="gros.xlsx",
        content=b"",
        sha256="0" * 64,
        uploaded_by=admin,
        status=ImportStatus.CHECKING,
    )
    ReportExport.objects.filter(pk=export.pk).update(status=ExportStatus.DONE)
    return [
        "/indicateurs/",
        f"/indicateurs/?annee=2024&territoire=commune:{structure.commune_id}",
        f"/indicateurs/structures/{structure.uuid}/",
        "/indicateurs/rapport/?annee=2024&territoire=department:69",
        f"/indicateurs/rapports/{export.uuid}/",
        "/indicateurs/definitions/",
        f"/indicateurs/definitions/{indicator.uuid}/",
        "/indicateurs/definitions/nouveau/",
        f"/indicateurs/definitions/{indicator.uuid}/modifier/",
        f"/echanges/imports/{checking.uuid}/",
    ]


def open_data_pages():
    from cadre.indicators.models import Indicator

    indicator = Indicator.objects.current().get(code="pa312_permanences")
    return [
        "/donnees-ouvertes/",
        "/donnees-ouvertes/?territory=department:69",
        f"/donnees-ouvertes/indicateurs/{indicator.uuid}/",
    ]


def test_commune_field_suggests_communes_as_one_types(page, site):
    log_in(page, site, cast.CAF69)
    page.goto(f"{site}/structures/nouvelle/")
    commune = page.get_by_role("combobox", name="Commune d'implantation")
    for typed, expected in [("villeurb", "Villeurbanne (69266)"), ("69120", "Vaulx-en-Velin (69256)")]:
        commune.fill("")
        commune.press_sequentially(typed, delay=30)
        page.wait_for_function(
            "([id, label]) => [...document.getElementById(id).options].some(o => o.value === label)",
            arg=[commune.get_attribute("list"), expected],
        )


def test_the_structure_page_links_everything_about_it(page, site):
    structure = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    log_in(page, site, cast.STRUCTURE_A)
    page.goto(f"{site}/structures/{structure.uuid}/")
    about = page.get_by_role("region", name="Sur cette structure")
    assert about.get_by_role("link").all_inner_texts() == [
        "Conventions",
        "Financements",
        "Pièces justificatives",
        "Questionnaire de l’observatoire",
        "Indicateurs",
        "Comptes annuels",
        "Santé financière et alertes",
        "Signalements de difficulté",
        "Calendrier des échéances",
    ]
    assert audit(page) == []
    page.screenshot(path="/tmp/cadre-structure-detail.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/cadre-structure-detail-phone.png", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})
    about.get_by_text("Conventions", exact=True).click()  # the whole tile is the link
    page.get_by_text("Voir toutes les conventions").wait_for()
    assert f"structure={structure.uuid}" in page.url
    assert audit(page) == []
    page.screenshot(path="/tmp/cadre-structure-agreements.png", full_page=True)


def test_qpv_checkboxes_follow_the_commune_of_the_structure(page, site):
    structure = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    assert structure.commune_id == "69266"  # Villeurbanne
    log_in(page, site, cast.CAF69)
    edit_url = f"{site}/structures/{structure.uuid}/modifier/"
    page.goto(edit_url)
    qpv = page.get_by_role("group", name=re.compile("QPV concernés"))
    qpv.get_by_label("QN06921M – Les Buers", exact=True).wait_for()
    assert audit(page) == []
    page.screenshot(path="/tmp/cadre-structure-edit-qpv.png", full_page=True)

    page.get_by_role("textbox", name=re.compile("^Code postal")).fill("69200")
    commune = page.get_by_role("combobox", name="Commune d'implantation")
    redrawn = []
    page.on("request", lambda request: redrawn.append(request.url) if "qpv-proposes" in request.url else None)
    commune.fill("Vénis")  # still typing: the list stays
    page.wait_for_timeout(600)
    assert redrawn == []
    with page.expect_response(re.compile(r"/structures/qpv-proposes/")):
        commune.fill("Vénissieux (69259)")  # as a suggestion picked: redrawn at once
    qpv.get_by_label("QN06918M – Duclos - Barel", exact=True).wait_for()
    commune.press("Tab")  # leaving the field for the list asks nothing more
    page.wait_for_timeout(600)
    assert len(redrawn) == 1
    assert qpv.get_by_label("QN06921M – Les Buers", exact=True).count() == 0
    assert page.url == edit_url  # the fragment left the address alone
    assert audit(page) == []
    page.screenshot(path="/tmp/cadre-structure-edit-qpv-venissieux.png", full_page=True)

    for box in qpv.get_by_role("checkbox", checked=True).all():
        box.uncheck(force=True)  # the QPV kept from Villeurbanne
    qpv.get_by_label("QN06918M – Duclos - Barel", exact=True).check(force=True)
    page.locator("#id_priority_area_status").select_option("in_area")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("Les modifications ont été enregistrées.").wait_for()
    assert list(structure.priority_areas.values_list("code", flat=True)) == ["QN06918M"]


def current_submission_of_a():
    from django.utils import timezone

    from cadre.observatory.models import Submission

    year = timezone.localdate().year - 1
    return Submission.objects.select_related("campaign").get(
        campaign__year=year, structure__memberships__user__email=cast.STRUCTURE_A
    )


def prepare_a_with_all_but_governance():
    """Structure A's draft: every section answered (from its validated answers of last year) but governance."""
    from cadre.observatory import actions
    from cadre.observatory.models import Answer, Submission, SubmissionStatus

    submission = current_submission_of_a()
    actor = User.objects.get(email=cast.STRUCTURE_A)
    last_year = Submission.objects.get(
        campaign__year=submission.campaign.year - 1, structure=submission.structure, status=SubmissionStatus.VALIDATED
    )
    questions = {q.code: q for q in submission.campaign.questionnaire.questions.select_related("section")}
    Answer.objects.filter(submission=submission).delete()
    for answer in last_year.answers.select_related("question__section"):
        question = questions.get(answer.question.code)
        if question is None or question.section.code == "gouvernance":
            continue
        value = answer.value
        actions.save_answer(
            submission,
            question,
            "oui" if value is True else "non" if value is False else value,
            actor=actor,
            comment=answer.comment,
        )
    return submission


def wait_saved(page, code):
    page.locator(f"#status-{code} .fr-message--valid").wait_for()


def test_a_structure_fills_sends_is_returned_corrects_and_is_validated(page, site):
    from cadre.observatory.models import Anomaly, SubmissionStatus

    submission = prepare_a_with_all_but_governance()
    overview = f"{site}/observatoire/saisies/{submission.uuid}/"
    log_in(page, site, cast.STRUCTURE_A)
    page.goto(overview)
    page.get_by_role("link", name="2. Gouvernance et participation des habitants").first.click()
    page.get_by_role("heading", level=1, name="2. Gouvernance et participation des habitants").wait_for()
    # DSFR draws the radio in its label, which takes the click.
    page.locator("label[for=input-conseil_administration-oui]").click()
    wait_saved(page, "conseil_administration")
    # The board questions come into view once the structure says it has a board.
    page.get_by_label("Nombre de membres du conseil d’administration").fill("12")
    wait_saved(page, "ca_membres")
    page.get_by_label("Membres du conseil d’administration habitants ou usagers").fill("13")
    page.locator("#status-ca_habitants .fr-message--error").filter(
        has_text="ne peuvent pas être plus nombreux"
    ).wait_for()
    page.get_by_label("Membres du conseil d’administration habitants ou usagers").fill("8")
    page.locator("#status-ca_habitants .fr-message--error").wait_for(state="detached")
    wait_saved(page, "ca_habitants")
    page.locator("label[for=input-comite_habitants-non]").click()
    wait_saved(page, "comite_habitants")
    for code, value in [("benevoles_activite", "30"), ("benevoles_gouvernance", "12"), ("benevoles_ponctuels", "25")]:
        page.locator(f"#input-{code}").fill(value)
        wait_saved(page, code)

    # Leave, come back: the answers are there.
    page.goto(f"{site}/")
    page.goto(overview)
    page.get_by_role("link", name="2. Gouvernance et participation des habitants").first.click()
    assert page.get_by_label("Nombre de membres du conseil d’administration").input_value() == "12"
    assert page.locator("#input-benevoles_ponctuels").input_value() == "25"

    page.goto(overview)
    page.get_by_role("button", name="Envoyer le questionnaire").click()
    page.get_by_text("Votre questionnaire est envoyé").wait_for()
    assert page.get_by_text("Questionnaire envoyé le").first.is_visible()

    # The correspondant of the Rhône returns it with a remark on one question.
    page.context.clear_cookies()
    log_in(page, site, cast.CAF69)
    page.goto(overview)
    page.get_by_role("link", name="Renvoyer à la structure").click()
    page.get_by_role("button", name="2. Gouvernance et participation des habitants").click()
    page.get_by_label("Membres du conseil d’administration habitants ou usagers").fill(
        "8 habitants sur 12 membres : le bureau compte-t-il des représentants de la commune ?"
    )
    page.get_by_label("Commentaire général").fill("Merci de vérifier la composition du conseil.")
    page.get_by_role("button", name="Renvoyer à la structure").click()
    page.get_by_text("Le questionnaire est renvoyé à la structure").wait_for()

    # The structure sees the remark next to the question, corrects and sends again.
    page.context.clear_cookies()
    log_in(page, site, cast.STRUCTURE_A)
    page.goto(overview)
    assert page.get_by_text("Merci de vérifier la composition du conseil.").is_visible()
    page.get_by_role("link", name="2. Gouvernance et participation des habitants").first.click()
    page.get_by_text("le bureau compte-t-il des représentants de la commune ?").wait_for()
    page.get_by_label("Membres du conseil d’administration habitants ou usagers").fill("7")
    wait_saved(page, "ca_habitants")
    page.goto(overview)
    page.get_by_role("button", name="Envoyer à nouveau").click()
    page.get_by_text("Votre questionnaire est envoyé").wait_for()
    remark = Anomaly.objects.get(submission=submission, kind="reviewer")
    assert remark.status == "corrected"

    # The correspondant settles any point still open, then validates.
    page.context.clear_cookies()
    log_in(page, site, cast.CAF69)
    page.goto(overview)
    while page.get_by_role("button", name="Classer comme justifié").count():
        page.get_by_label("Justification connue").first.fill("Vu avec la directrice au téléphone.")
        page.get_by_role("button", name="Classer comme justifié").first.click()
        page.get_by_text("La justification est enregistrée.").wait_for()
    page.get_by_role("button", name="Valider le questionnaire").click()
    page.get_by_text("Le questionnaire est validé.").wait_for()
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.VALIDATED
    assert [e.to_status for e in submission.events.all()][-4:] == ["submitted", "returned", "resubmitted", "validated"]
    assert submission.answers.get(question__code="ca_habitants").number == 7
