"""Indicator definitions edited by administrators in forms: created and edited through the pages (a new
version each time, the old one kept with its values), refused in French at the field at fault with nothing
saved, never silently overwritten by a concurrent edit, closed to everyone but the data manager."""

import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cadre.indicators.actions import define_indicator
from cadre.indicators.compute import rebuild
from cadre.indicators.forms import IndicatorForm
from cadre.indicators.models import Indicator, IndicatorValue, Level
from tests.factories import VILLEURBANNE, UserFactory
from tests.test_indicators import observe

pytestmark = pytest.mark.django_db


PERMANENCES = {
    "title": "Part des structures où un partenaire tient une permanence",
    "theme": "partnerships",
    "kind": "share",
    "unit": "%",
    "decimals": 1,
    "method": "Part des structures qui ont répondu « oui ».",
    "source": "question:permanences",
    "operator": "yes",
}
WRONG_TYPE = (
    "Une médiane et quartiles d'une réponse chiffrée se calcule sur une réponse chiffrée : cette donnée est de "
    "type « oui / non »."
)


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True, first_name="Alice", last_name="Gestionnaire")


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def post_data(fields, **extra):
    """The form's POST body for a definition (lists as repeated keys, empty values as blanks)."""
    data = {
        "title": "",
        "theme": "",
        "position": 0,
        "unit": "",
        "decimals": 0,
        "method": "",
        "kind": "",
        "source": "",
        "operator": "",
        "threshold": "",
        "denominator": "",
        "priority_area": "",
    }
    for name, value in {**fields, **extra}.items():
        if value is True:
            data[name] = "on"
        elif value is not False and value is not None:
            data[name] = value
    data.setdefault("choices_for", data["source"])
    return data


def page(response):
    return html.unescape(response.content.decode())


def create_url():
    return reverse("indicator_definitions:create")


def edit_url(indicator):
    return reverse("indicator_definitions:edit", args=[indicator.uuid])


def detail_url(indicator):
    return reverse("indicator_definitions:detail", args=[indicator.uuid])


class TestCreate:
    def test_the_form_offers_the_questions_by_section_and_the_registry_fields(self, admin_client, questionnaire):
        content = page(admin_client.get(create_url()))
        assert '<optgroup label="Questionnaire d\'essai des indicateurs (version 1) — Essai">' in content
        assert "budget_total — Budget total (montant en euros)" in content
        assert '<optgroup label="Répertoire des structures">' in content
        assert "management — Mode de gestion (choix unique)" in content
        # The denominator lists only numbers, and « the structures ».
        denominator = content[content.index('name="denominator"') :]
        denominator = denominator[: denominator.index("</select>")]
        assert 'value="structures"' in denominator and 'value="question:etp_total"' in denominator
        assert "question:permanences" not in denominator and 'value="registry:served_population"' in denominator

    def test_create_through_the_form(self, admin_client, admin, questionnaire):
        response = admin_client.post(create_url(), post_data({**PERMANENCES, "code": "permanences"}), follow=True)
        indicator = Indicator.objects.get(code="permanences")
        assert response.redirect_chain[-1][0] == detail_url(indicator)
        assert (indicator.version, indicator.is_current, indicator.created_by) == (1, True, admin)
        assert (indicator.kind, indicator.source, indicator.operator) == ("share", "question:permanences", "yes")
        assert (indicator.threshold, indicator.choice_codes, indicator.denominator) == (None, [], "")
        content = page(response)
        assert "L'indicateur « Part des structures où un partenaire tient une permanence » est créé (version 1)" in (
            content
        )
        assert "calculées en arrière-plan" in content
        # The definition in plain French.
        assert (
            "Part des structures de la population dont la réponse à « Des partenaires tiennent-ils des permanences "
            "dans vos locaux ? » est « oui »" in content
        )

    def test_a_code_already_taken_is_refused(self, admin_client, questionnaire):
        define_indicator("permanences", PERMANENCES)
        response = admin_client.post(create_url(), post_data({**PERMANENCES, "code": "permanences", "title": "Autre"}))
        assert response.status_code == 200
        assert "est déjà celui de l'indicateur" in response.context["form"].errors["code"][0]
        assert Indicator.objects.filter(code="permanences").count() == 1

    def test_a_code_taken_while_the_form_was_checked_is_not_turned_into_a_new_version(
        self, admin_client, questionnaire, monkeypatch
    ):
        # Someone creates « permanences » between the form's check of the code and the save.
        monkeypatch.setattr(IndicatorForm, "clean_code", lambda form: form.cleaned_data["code"])
        define_indicator("permanences", PERMANENCES, actor=UserFactory(first_name="Bruno", last_name="Collègue"))
        response = admin_client.post(create_url(), post_data({**PERMANENCES, "code": "permanences", "unit": "€"}))
        assert response.context["form"].errors["code"] == [
            "Bruno Collègue vient de créer un indicateur de code « permanences » : choisissez un autre code."
        ]
        assert list(Indicator.objects.values_list("version", "unit")) == [(1, "%")]

    def test_what_does_not_apply_to_the_kind_is_not_kept(self, admin_client, questionnaire):
        fields = {
            "code": "observees",
            "title": "Structures observées",
            "theme": "key_figures",
            "kind": "count",
            "method": "Nombre de structures.",
            # Left over from another kind: a count reads nothing, has no condition and no denominator.
            "source": "question:budget_total",
            "operator": "gt",
            "threshold": "1000",
            "denominator": "structures",
        }
        assert admin_client.post(create_url(), post_data(fields)).status_code == 302
        indicator = Indicator.objects.get(code="observees")
        assert (indicator.source, indicator.operator, indicator.threshold, indicator.denominator) == ("", "", None, "")

    def test_a_threshold_is_read_as_french_writes_it(self, admin_client, questionnaire):
        fields = {
            **PERMANENCES,
            "code": "gros_budgets",
            "source": "question:budget_total",
            "operator": "gte",
            "threshold": "1 000 000,5",
        }
        assert admin_client.post(create_url(), post_data(fields)).status_code == 302
        assert str(Indicator.objects.get(code="gros_budgets").threshold) == "1000000.5000"


class TestRefusals:
    """Bad definitions say so in French, at the field at fault, and nothing is saved."""

    def test_a_source_of_the_wrong_type_is_refused_at_the_field(self, admin_client, questionnaire):
        fields = {**PERMANENCES, "code": "mediane", "kind": "median"}
        response = admin_client.post(create_url(), post_data(fields))
        assert response.status_code == 200
        assert response.context["form"].errors == {"source": [WRONG_TYPE]}
        content = page(response)
        assert "Le formulaire contient des erreurs" in content and "Rien n’a été enregistré" in content
        # The message is rendered under the source select.
        error_block = content[content.index('id="id_source-desc-error"') :]
        assert error_block.index(WRONG_TYPE) < error_block.index("</div>")
        assert not Indicator.objects.exists()

    def test_an_edit_of_the_wrong_type_keeps_the_current_version(self, admin_client, questionnaire):
        _, first = define_indicator("permanences", PERMANENCES)
        response = admin_client.post(edit_url(first), post_data({**PERMANENCES, "kind": "median"}, version=1))
        assert response.context["form"].errors == {"source": [WRONG_TYPE]}
        assert list(Indicator.objects.values_list("version", "replaced_at")) == [(1, None)]

    def test_every_problem_is_said_at_once(self, admin_client, questionnaire):
        fields = {
            **PERMANENCES,
            "title": "",
            "code": "ratio",
            "kind": "ratio",
            "source": "question:budget_total",
            "structure_kinds": ["evs"],
            "approval_kinds": ["social_project"],
        }
        errors = admin_client.post(create_url(), post_data(fields)).context["form"].errors
        assert set(errors) == {"title", "denominator", "approval_kinds"}
        # A ratio with no denominator would divide by an empty set; an EVS has no social-project approval.
        assert errors["denominator"] == ["Choisissez le dénominateur : une réponse chiffrée, ou les structures."]
        assert errors["approval_kinds"] == [
            "Aucune structure de ces types n'a ces agréments : la population de l'indicateur serait vide."
        ]
        assert not Indicator.objects.exists()

    def test_choices_checked_for_another_source_are_refused(self, admin_client, questionnaire):
        fields = {
            **PERMANENCES,
            "code": "lieux",
            "source": "question:lieux",
            "operator": "any_of",
            "choice_codes": ["niveau_7"],
        }
        response = admin_client.post(create_url(), post_data(fields, choices_for="question:qualification"))
        form = response.context["form"]
        assert "Vous avez changé la donnée lue" in form.errors["choice_codes"][0]
        # The checkboxes now offered are the new source's.
        assert [code for code, _ in form.fields["choice_codes"].choices] == ["ecole", "mediatheque"]
        assert 'value="ecole"' in page(response)
        assert not Indicator.objects.exists()


class TestEdit:
    def test_editing_makes_version_2_and_keeps_version_1_with_its_values(self, admin_client, admin, campaign):
        _, first = define_indicator("permanences", PERMANENCES)
        observe(campaign, VILLEURBANNE, {"permanences": True})
        rebuild()
        form = admin_client.get(edit_url(first)).context["form"]
        assert form.initial["version"] == 1 and form["operator"].value() == "yes"

        response = admin_client.post(
            edit_url(first), post_data({**PERMANENCES, "operator": "no"}, version=1), follow=True
        )
        second = Indicator.objects.current().get(code="permanences")
        assert (second.version, second.operator, second.created_by) == (2, "no", admin)
        first.refresh_from_db()
        assert first.replaced_at is not None and first.operator == "yes"
        content = page(response)
        assert (
            "La version 2 de « Part des structures où un partenaire tient une permanence » est enregistrée" in content
        )
        assert "recalculées en arrière-plan" in content
        # The old version keeps its values; the new one's were recomputed (at once by the test task backend).
        assert IndicatorValue.objects.get(indicator=first, level=Level.NATIONAL).value == 100
        assert IndicatorValue.objects.get(indicator=second, level=Level.NATIONAL).value == 0

    def test_saving_an_unchanged_form_makes_no_version(self, admin_client, questionnaire):
        fields = {
            **PERMANENCES,
            "source": "question:qualification",
            "operator": "any_of",
            "choice_codes": ["niveau_6", "niveau_7"],
        }
        _, first = define_indicator("qualifiees", fields)
        # The checkboxes come back in the question's order (niveau_7 first): still the same definition.
        body = post_data({**fields, "choice_codes": ["niveau_7", "niveau_6"]}, version=1)
        response = admin_client.post(edit_url(first), body, follow=True)
        assert "Aucune modification : la version 1 reste en vigueur." in page(response)
        assert list(Indicator.objects.values_list("version", flat=True)) == [1]

    def test_a_concurrent_edit_is_refused_and_shows_what_the_other_person_saved(self, client, admin, questionnaire):
        _, first = define_indicator("permanences", PERMANENCES)
        other = UserFactory(is_superuser=True, first_name="Bruno", last_name="Collègue")
        client.force_login(other)
        client.post(edit_url(first), post_data({**PERMANENCES, "operator": "no"}, version=1))
        assert Indicator.objects.current().get(code="permanences").version == 2

        # Alice had opened the form at version 1, and changes the title.
        client.force_login(admin)
        mine = post_data({**PERMANENCES, "title": "Permanences de partenaires"}, version=1)
        response = client.post(edit_url(first), mine)
        assert response.status_code == 200
        assert list(Indicator.objects.order_by("version").values_list("version", "title")) == [
            (1, PERMANENCES["title"]),
            (2, PERMANENCES["title"]),
        ]
        form = response.context["form"]
        [message] = form.non_field_errors()
        assert message.startswith(
            "Rien n'a été enregistré : pendant votre saisie, Bruno Collègue a enregistré la version 2"
        )
        assert [(c["label"], c["seen"], c["current"], c["by"]) for c in form.conflict] == [
            ("condition", "est « oui »", "est « non »", "Bruno Collègue")
        ]
        content = page(response)
        assert "Changements faits pendant votre saisie" in content and "est « non »" in content
        # Alice's input is kept; saving again is now a deliberate choice, against version 2.
        assert form["title"].value() == "Permanences de partenaires"
        assert form["version"].value() == 2
        client.post(edit_url(first), {**mine, "version": 2})
        third = Indicator.objects.current().get(code="permanences")
        assert (third.version, third.title, third.created_by) == (3, "Permanences de partenaires", admin)

    def test_an_old_versions_edit_page_leads_to_the_current_version(self, admin_client, questionnaire):
        _, first = define_indicator("permanences", PERMANENCES)
        _, second = define_indicator("permanences", {**PERMANENCES, "operator": "no"})
        response = admin_client.get(edit_url(first))
        assert response.status_code == 302 and response["Location"] == edit_url(second)


class TestRefresh:
    """The calculation block follows the kind, the source and the condition: htmx fragment or full page."""

    def test_htmx_refresh_shows_the_choices_of_the_new_source_and_saves_nothing(self, admin_client, questionnaire):
        fields = {**PERMANENCES, "code": "x", "source": "question:qualification", "operator": "any_of"}
        body = post_data(fields, refresh="1", choices_for="question:permanences")
        response = admin_client.post(create_url(), body, HTTP_HX_REQUEST="true")
        content = page(response)
        assert 'id="definition-calculation"' in content and "<html" not in content
        assert 'value="niveau_7"' in content and "Niveau 6" in content
        assert 'name="choices_for" value="question:qualification"' in content
        # Not checked: no error is shown while the definition is being built.
        assert "fr-input-group--error" not in content and "fr-select-group--error" not in content
        assert not Indicator.objects.exists()

    def test_without_javascript_the_refresh_button_reposts_the_page(self, admin_client, questionnaire):
        fields = {**PERMANENCES, "code": "x", "kind": "count"}
        response = admin_client.post(create_url(), post_data(fields, refresh="1"))
        assert response.status_code == 200 and "<html" in page(response)
        form = response.context["form"]
        # A count reads nothing: only the kind is left in the calculation block.
        assert form.shown_calculation_fields() == ["kind"]
        assert form["title"].value() == PERMANENCES["title"]
        assert not Indicator.objects.exists()


class TestPages:
    def test_the_list_groups_current_indicators_by_theme(self, client, questionnaire):
        define_indicator("permanences", PERMANENCES)
        define_indicator("permanences", {**PERMANENCES, "operator": "no"})
        define_indicator(
            "budget_median",
            {
                "title": "Budget médian",
                "theme": "finances",
                "kind": "median",
                "unit": "€",
                "method": "Médiane du budget.",
                "source": "question:budget_total",
                "is_public": True,
            },
        )
        client.force_login(UserFactory())
        response = client.get(reverse("indicator_definitions:list"))
        themes = [(theme, [(i.code, i.version) for i in items]) for theme, items in response.context["themes"]]
        assert themes == [("Partenariats", [("permanences", 2)]), ("Finances", [("budget_median", 1)])]
        content = page(response)
        assert "Médiane et quartiles d'une réponse chiffrée" in content and "publié" in content
        # Only the data manager is offered to create one.
        assert reverse("indicator_definitions:create") not in content

    def test_the_history_shows_both_versions_and_what_changed(self, admin_client, admin, questionnaire):
        _, first = define_indicator("permanences", PERMANENCES)
        admin_client.post(
            edit_url(first), post_data({**PERMANENCES, "operator": "no", "unit": "% des structures"}, version=1)
        )
        second = Indicator.objects.current().get(code="permanences")
        response = admin_client.get(detail_url(second))
        versions = response.context["versions"]
        assert [(v.version, v.is_current) for v in versions] == [(2, True), (1, False)]
        assert [(c["label"], c["old"], c["new"]) for c in versions[0].changes] == [
            ("unité", "%", "% des structures"),
            ("condition", "est « oui »", "est « non »"),
        ]
        content = page(response)
        history = content[content.index('id="historique"') :]
        assert "version 2</strong> (affichée)" in history and detail_url(first) in history
        assert "Alice Gestionnaire" in history and "Première version" in history
        first.refresh_from_db()
        assert timezone.localtime(first.replaced_at).strftime("%d/%m/%Y %H:%M") in history
        # The old version's page says it was replaced and leads to the current one.
        old = page(admin_client.get(detail_url(first)))
        assert "Vous consultez une ancienne version" in old and detail_url(second) in old

    def test_the_history_reads_the_same_few_tables_whatever_its_length(self, admin_client, questionnaire):
        """Each version's sentences name their question: read once for the page, not once per version and field."""
        _, first = define_indicator("permanences", PERMANENCES)
        with CaptureQueriesContext(connection) as one:
            admin_client.get(detail_url(first))
        budget = {**PERMANENCES, "source": "question:budget_total", "operator": "gt", "threshold": "100000"}
        for version, fields in ((1, budget), (2, PERMANENCES)):
            response = admin_client.post(edit_url(first), post_data(fields, version=version))
            assert response.status_code == 302
        third = Indicator.objects.current().get(code="permanences")
        with CaptureQueriesContext(connection) as three:
            response = admin_client.get(detail_url(third))
        assert [v.version for v in response.context["versions"]] == [3, 2, 1]
        content = page(response)
        assert "la réponse à « Des partenaires tiennent-ils des permanences dans vos locaux ? »" in content
        assert "la réponse à « Budget total » (question budget_total, montant en euros)" in content
        assert len(three) == len(one)


class TestAccess:
    def test_only_the_data_manager_edits_definitions(self, client, questionnaire):
        _, first = define_indicator("permanences", PERMANENCES)
        client.force_login(UserFactory())
        assert client.get(create_url()).status_code == 403
        assert client.post(create_url(), post_data({**PERMANENCES, "code": "autre"})).status_code == 403
        assert client.get(edit_url(first)).status_code == 403
        assert client.post(edit_url(first), post_data({**PERMANENCES, "operator": "no"}, version=1)).status_code == 403
        assert list(Indicator.objects.values_list("code", "version")) == [("permanences", 1)]
        # Reading is open to everyone signed in, without the edit button.
        response = client.get(detail_url(first))
        assert response.status_code == 200 and edit_url(first) not in page(response)

    def test_anonymous_visitors_are_sent_to_the_login_page(self, client, questionnaire):
        _, first = define_indicator("permanences", PERMANENCES)
        for url in (reverse("indicator_definitions:list"), detail_url(first), create_url(), edit_url(first)):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_the_sources_offered_follow_the_questionnaires_loaded(admin_client, tmp_path, django_assert_max_num_queries):
    from cadre.observatory.actions import load_questionnaire

    def offered():
        form = admin_client.get(create_url()).context["form"]
        return {value for _, options in form.fields["source"].choices[1:] for value, _ in options}

    before = offered()
    with django_assert_max_num_queries(3):  # session, user, the questionnaires' stamp: not their questions
        admin_client.get(create_url())
    path = tmp_path / "essai.toml"
    text = """code = "essai_sources"\nversion = 1\ntitle = "Essai"\n\n[[sections]]\ncode = "s"\ntitle = "S"\n\n"""
    path.write_text(
        text + """[[sections.questions]]\ncode = "benevoles_essai"\nlabel = "Bénévoles"\ntype = "integer"\n"""
    )
    load_questionnaire(path)
    assert offered() == before | {"question:benevoles_essai"}
