"""Open data of the indicators: public page, method pages, CSV and API, without login.

Real values: six validated structures in Villeurbanne (Rhône, enough to publish) and two in
Marseille (Bouches-du-Rhône, under the threshold of 5: statistical secrecy). Their budgets are
chosen so that the secret figures (731 113 and 731 117 €, median 731 115 €, quartiles 731 114 and
731 116 €) are recognisable:
none of them may appear anywhere public. A non-public indicator never shows to the public.
"""

import csv
import decimal
import io

import pytest
from django.urls import reverse

from cadre.accounts.models import ApiToken
from cadre.indicators.actions import define_indicator
from cadre.indicators.compute import rebuild
from cadre.indicators.models import IndicatorValue, Level
from cadre.observatory.models import SubmissionStatus
from cadre.structures.models import Structure
from tests.factories import MARSEILLE_3E, VILLEURBANNE, UserFactory
from tests.test_indicators import observe

pytestmark = pytest.mark.django_db
D = decimal.Decimal
NNBSP, NBSP = "\u202f", "\u00a0"


DEFINITIONS = {
    "observees": {
        "title": "Structures observées",
        "theme": "key_figures",
        "kind": "count",
        "unit": "structures",
        "method": "Nombre de structures dont le questionnaire est validé.",
        "is_public": True,
    },
    "permanences": {
        "title": "Part des structures où un partenaire tient une permanence",
        "theme": "partnerships",
        "kind": "share",
        "unit": "%",
        "decimals": 1,
        "method": "Part des structures qui ont répondu « oui ».",
        "source": "question:permanences",
        "operator": "yes",
        "is_public": True,
    },
    "budget_median": {
        "title": "Budget médian",
        "theme": "finances",
        "kind": "median",
        "unit": "€",
        "method": "Médiane et quartiles du budget total.",
        "source": "question:budget_total",
        "is_public": True,
    },
    "euros_par_etp": {
        "title": "Budget par ETP",
        "theme": "finances",
        "kind": "ratio",
        "unit": "€",
        "method": "Somme des budgets sur la somme des ETP.",
        "source": "question:budget_total",
        "denominator": "question:etp_total",
        "is_public": True,
    },
    "permanences_interne": {
        "title": "Indicateur interne des permanences",
        "theme": "partnerships",
        "kind": "share",
        "unit": "%",
        "decimals": 1,
        "method": "Réservé aux partenaires.",
        "source": "question:permanences",
        "operator": "no",
        "is_public": False,
    },
}
RHONE_BUDGETS = [100000, 110000, 120000, 130000, 140000, 150000]  # median 125 000 €
SECRET_BUDGETS = [731113, 731117]  # median 731 115 €: never public
INTERNAL = "Indicateur interne des permanences"


@pytest.fixture(autouse=True)
def threshold(settings):
    settings.CADRE_OPEN_DATA_MIN_STRUCTURES = 5


@pytest.fixture
def data(campaign):
    indicators = {code: define_indicator(code, fields, recompute=False)[1] for code, fields in DEFINITIONS.items()}
    for i, budget in enumerate(RHONE_BUDGETS):
        # Half of them host a partner's office; nobody has any ETP: the budget per ETP divides by zero.
        observe(campaign, VILLEURBANNE, {"permanences": i % 2 == 0, "budget_total": D(budget), "etp_total": D(0)})
    for budget in SECRET_BUDGETS:
        observe(campaign, MARSEILLE_3E, {"permanences": True, "budget_total": D(budget), "etp_total": D(1)})
    observe(campaign, MARSEILLE_3E, {"budget_total": D(731119)}, status=SubmissionStatus.SUBMITTED)  # not validated
    rebuild()
    return indicators


def value(code, level, territory):
    return IndicatorValue.objects.get(indicator__code=code, year=2025, level=level, territory=territory)


def assert_no_secret(text):
    for figure in ("731113", "731114", "731115", "731116", "731117", f"731{NNBSP}11"):
        assert figure not in text
    assert INTERNAL not in text and "permanences_interne" not in text


def assert_no_structure_names(text):
    for name in Structure.objects.values_list("name", flat=True):
        assert name not in text


def test_the_data_is_what_the_tests_expect(data):
    """The setting of the other tests: Rhône published, Bouches-du-Rhône under the threshold."""
    assert value("observees", Level.DEPARTMENT, "69").value == 6
    assert value("observees", Level.DEPARTMENT, "13").structure_count == 2
    assert value("budget_median", Level.DEPARTMENT, "13").value == 731115
    assert value("euros_par_etp", Level.DEPARTMENT, "69").value is None
    assert value("permanences_interne", Level.DEPARTMENT, "69").value == 50


class TestPage:
    def test_anyone_sees_the_published_indicators_without_login(self, client, data):
        response = client.get(reverse("open_data:index"))
        assert response.status_code == 200
        page = response.content.decode()
        for code in ("observees", "permanences", "budget_median", "euros_par_etp"):
            assert DEFINITIONS[code]["title"] in page
            assert reverse("open_data:indicator", args=[data[code].uuid]) in page
        assert "<h3" in page and "Chiffres clés" in page and "Partenariats" in page and "Finances" in page
        assert "France, 2025" in page
        assert INTERNAL not in page
        assert_no_structure_names(page)

    def test_a_territory_with_enough_structures_shows_its_figures(self, client, data):
        page = client.get(reverse("open_data:index"), {"year": 2025, "territory": "department:69"}).content.decode()
        assert "Rhône (69), 2025" in page
        assert f"6{NBSP}structures" in page
        assert f"50,0{NBSP}%" in page
        assert f"125{NNBSP}000{NBSP}€" in page  # the Rhône median
        assert f"1er quartile : 112{NNBSP}500{NBSP}€" in page
        # Computed on 6 structures but not computable: said with its reason.
        assert "division par zéro" in page
        assert_no_secret(page)
        assert_no_structure_names(page)

    def test_a_territory_under_the_threshold_shows_no_figure(self, client, data):
        response = client.get(reverse("open_data:index"), {"year": 2025, "territory": "department:13"})
        page = response.content.decode()
        assert "Bouches-du-Rhône (13), 2025" in page
        assert page.count("secret statistique (moins de 5 structures)") >= 4  # every indicator of the territory
        assert "moins de 5</td>" in page  # not the number of structures either (for a count it is the value)
        assert f"2{NBSP}structures" not in page
        assert "<td>2</td>" not in page
        assert "division par zéro" not in page and "100,0" not in page
        assert_no_secret(page)
        assert_no_structure_names(page)

    def test_a_non_public_indicator_cannot_be_asked_for(self, client, data):
        response = client.get(reverse("open_data:index"), {"year": 2025, "map": "permanences_interne"})
        assert response.status_code == 200
        assert INTERNAL not in response.content.decode()
        assert "permanences_interne" in response.context["form"].errors["map"][0]
        assert response.context["figure"].title.startswith("Structures observées")  # the default map

    def test_a_link_may_give_only_some_of_the_choices(self, client, data):
        response = client.get(reverse("open_data:index"), {"year": 2025})
        assert not response.context["form"].errors
        assert response.context["place"] == "France"
        response = client.get(reverse("open_data:index"), {"territory": "commune:99999"})
        assert "territory" in response.context["form"].errors and response.context["place"] == "France"

    def test_a_small_epci_or_commune_is_not_offered(self, client, data):
        form = client.get(reverse("open_data:index")).context["form"]
        offered = [key for group in form.fields["territory"].choices for key in _keys(group)]
        assert {"national", "region:84", "region:93", "department:69", "department:13"} <= set(offered)
        assert f"commune:{VILLEURBANNE}" in offered  # 6 structures
        assert f"commune:{MARSEILLE_3E}" not in offered  # 2: every figure would be secret

    def test_the_map_hatches_the_secret_departments_and_says_so(self, client, data):
        response = client.get(reverse("open_data:index"), {"year": 2025, "map": "budget_median"})
        figure = response.context["figure"]
        rows = {row[0]: row[1:] for row in figure.table.rows}
        assert rows["Rhône (69)"][0] == f"125{NNBSP}000{NBSP}€"
        assert rows["Bouches-du-Rhône (13)"] == ("secret statistique (moins de 5 structures)", "secret statistique")
        svg = str(figure.svg)
        assert 'data-code="13"' in svg and "url(#" in svg.split('data-code="13"')[0].rsplit("<path", 1)[1]
        assert "Bouches-du-Rhône (13) : secret statistique" in svg
        page = response.content.decode()
        assert "Données : Budget médian par département, 2025" in page  # the table after the map
        assert '<th scope="row">Bouches-du-Rhône (13)</th>' in page
        assert_no_secret(page)

    def test_the_map_of_a_region_shows_its_departments_only(self, client, data):
        response = client.get(reverse("open_data:index"), {"year": 2025, "territory": "department:69"})
        svg = str(response.context["figure"].svg)
        assert 'data-code="69"' in svg and 'data-code="38"' in svg  # Isère, of the same région
        assert 'data-code="13"' not in svg
        assert 'data-highlight="69"' in svg

    def test_the_page_without_any_value_says_so(self, client, campaign):
        response = client.get(reverse("open_data:index"))
        assert response.status_code == 200
        assert "Aucun indicateur publié n’a encore de valeur." in response.content.decode()


def _keys(group):
    key, label = group
    return [k for k, _ in label] if isinstance(label, list) else [key]


class TestMethodPage:
    def test_a_published_indicator_has_its_method_page(self, client, data):
        response = client.get(reverse("open_data:indicator", args=[data["permanences"].uuid]))
        assert response.status_code == 200
        page = response.content.decode()
        assert "Part des structures qui ont répondu « oui »." in page
        assert "« Des partenaires tiennent-ils des permanences dans vos locaux ? »" in page
        assert "est « oui »" in page
        assert "Les centres sociaux et les espaces de vie sociale dont le questionnaire" in page
        assert '<th scope="row">2025</th>' in page
        assert_no_secret(page)

    def test_a_non_public_indicator_has_none(self, client, data):
        assert client.get(reverse("open_data:indicator", args=[data["permanences_interne"].uuid])).status_code == 404

    def test_a_replaced_version_stays_readable_and_points_to_the_current_one(self, client, data):
        old = data["observees"]
        _, new = define_indicator("observees", {**DEFINITIONS["observees"], "method": "Nouvelle méthode."})
        page = client.get(reverse("open_data:indicator", args=[old.uuid])).content.decode()
        assert "Version remplacée" in page
        assert reverse("open_data:indicator", args=[new.uuid]) in page
        assert "Nombre de structures dont le questionnaire est validé." in page


def read_csv(response):
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    text = body.decode("utf-8-sig")
    assert "\r\n" in text
    return text, list(csv.reader(io.StringIO(text), delimiter=";"))


class TestCsv:
    HEADERS = [
        "code indicateur",
        "intitulé",
        "version",
        "année",
        "échelon",
        "code territoire",
        "territoire",
        "valeur",
        "unité",
        "structures",
        "statut",
    ]

    def test_every_department_of_a_year_in_french_spreadsheet_format(self, client, data):
        response = client.get(reverse("open_data:values_csv"), {"year": 2025, "level": "department"})
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert 'filename="indicateurs-2025-departements.csv"' in response["Content-Disposition"]
        text, rows = read_csv(response)
        assert rows[0] == self.HEADERS
        by_key = {(row[0], row[5]): row for row in rows[1:]}
        assert len(rows) == 1 + 4 * 2  # 4 published indicators × 2 départements
        assert by_key[("permanences", "69")] == [
            "permanences",
            DEFINITIONS["permanences"]["title"],
            "1",
            "2025",
            "Département",
            "69",
            "Rhône",
            "50,0",  # decimal comma, rounded as published
            "%",
            "6",
            "publiée",
        ]
        assert by_key[("budget_median", "69")][7] == "125000"  # no thousands separator: a number for the sheet
        assert by_key[("euros_par_etp", "69")][7] == ""
        assert by_key[("euros_par_etp", "69")][10].startswith("non calculable : division par zéro")
        for code in ("observees", "permanences", "budget_median", "euros_par_etp"):
            secret = by_key[(code, "13")]
            assert secret[6] == "Bouches-du-Rhône"
            assert secret[7] == "" and secret[9] == ""  # neither the value nor the number of structures
            assert secret[10] == "secret statistique (moins de 5 structures)"
        assert_no_secret(text)
        assert_no_structure_names(text)

    def test_one_territory_and_every_level(self, client, data):
        _, rows = read_csv(client.get(reverse("open_data:values_csv"), {"level": "commune", "territory": VILLEURBANNE}))
        assert {row[5] for row in rows[1:]} == {VILLEURBANNE}
        assert [row[0] for row in rows[1:]] == ["observees", "permanences", "budget_median", "euros_par_etp"]
        text, rows = read_csv(client.get(reverse("open_data:values_csv")))  # the latest year, every level
        assert {row[4] for row in rows[1:]} == {"France", "Région", "Département", "EPCI", "Commune"}
        france = next(row for row in rows if row[0] == "budget_median" and row[4] == "France")
        assert france[5] == "" and france[6] == "France" and france[9] == "8"
        assert france[7] == "135000"  # France's median rests on 8 structures: published
        assert_no_secret(text)

    def test_bad_parameters_are_explained(self, client, data):
        response = client.get(reverse("open_data:values_csv"), {"year": 1990})
        assert response.status_code == 400
        assert "Années disponibles : 2025" in response.content.decode()
        assert client.get(reverse("open_data:values_csv"), {"level": "canton"}).status_code == 400
        assert client.get(reverse("open_data:values_csv"), {"territory": "69"}).status_code == 400


class TestApi:
    @pytest.fixture
    def token(self):
        return ApiToken.issue(UserFactory(), "tests")[1]

    def get(self, client, name, params=None, token=None, args=()):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.get(reverse(f"api-1.0.0:{name}", args=args), params or {}, headers=headers)

    def test_anonymous_callers_read_the_published_definitions(self, client, data):
        response = self.get(client, "indicators", {"page_size": 200})
        assert response.status_code == 200
        body = response.json()
        assert {i["code"] for i in body["results"]} == {"observees", "permanences", "budget_median", "euros_par_etp"}
        assert body["count"] == 4
        detail = self.get(client, "indicator", args=[data["budget_median"].uuid]).json()
        assert detail["method"] == "Médiane et quartiles du budget total."
        assert detail["method_url"] == reverse("open_data:indicator", args=[data["budget_median"].uuid])
        hidden = self.get(client, "indicator", args=[data["permanences_interne"].uuid])
        assert hidden.status_code == 404

    def test_signed_in_callers_read_every_definition(self, client, data, token):
        body = self.get(client, "indicators", {"page_size": 200}, token=token).json()
        assert "permanences_interne" in {i["code"] for i in body["results"]}
        detail = self.get(client, "indicator", args=[data["permanences_interne"].uuid], token=token)
        assert detail.status_code == 200 and detail.json()["is_public"] is False
        themes = self.get(client, "indicators", {"theme": "finances"}, token=token).json()["results"]
        assert {i["code"] for i in themes} == {"budget_median", "euros_par_etp"}

    def test_old_versions_on_request(self, client, data):
        define_indicator("observees", {**DEFINITIONS["observees"], "method": "Nouvelle méthode."})
        current = self.get(client, "indicators", {"code": "observees"}).json()["results"]
        every = self.get(client, "indicators", {"code": "observees", "all_versions": "true"}).json()["results"]
        assert [(i["version"], i["is_current"]) for i in current] == [(2, True)]
        assert sorted((i["version"], i["is_current"]) for i in every) == [(1, False), (2, True)]

    def test_values_filtered_by_year_level_territory_and_indicator(self, client, data):
        params = {"year": 2025, "level": "department", "territory": "69", "indicator": "observees"}
        body = self.get(client, "indicator_values", params).json()
        assert body["count"] == 1
        (row,) = body["results"]
        assert row["indicator"] == str(data["observees"].uuid)
        assert (row["level"], row["territory"], row["territory_name"], row["year"]) == (
            "department",
            "69",
            "Rhône",
            2025,
        )
        assert (row["value"], row["structure_count"], row["status"], row["suppressed"]) == (6, 6, "published", False)
        national = self.get(client, "indicator_values", {"level": "national", "indicator": "budget_median"}).json()
        assert [(r["territory"], r["territory_name"]) for r in national["results"]] == [("", "France")]
        page = self.get(client, "indicator_values", {"level": "department", "page_size": 3}).json()
        assert (page["count"], len(page["results"])) == (8, 3)
        assert self.get(client, "indicator_values", {"year": 2024}).json()["count"] == 0
        missing_level = self.get(client, "indicator_values", {"territory": "69"})
        assert missing_level.status_code == 400 and "territory" in missing_level.json()["errors"]
        assert self.get(client, "indicator_values", {"level": "canton"}).status_code == 400

    def test_anonymous_callers_get_the_statistical_secrecy(self, client, data):
        params = {"level": "department", "territory": "13", "page_size": 200}
        response = self.get(client, "indicator_values", params)
        assert response.status_code == 200
        rows = {r["indicator_code"]: r for r in response.json()["results"]}
        assert set(rows) == {"observees", "permanences", "budget_median", "euros_par_etp"}
        for row in rows.values():
            assert row["suppressed"] is True and row["status"] == "suppressed"
            for field in ("value", "numerator", "denominator", "first_quartile", "third_quartile", "structure_count"):
                assert row[field] is None
        assert_no_secret(response.content.decode())
        rhone = self.get(client, "indicator_values", {"level": "department", "territory": "69"}).json()["results"]
        median = next(r for r in rhone if r["indicator_code"] == "budget_median")
        assert (median["value"], median["first_quartile"], median["suppressed"]) == (125000, 112500, False)
        ratio = next(r for r in rhone if r["indicator_code"] == "euros_par_etp")
        assert ratio["status"] == "not_computable" and ratio["reason"].startswith("division par zéro")

    def test_signed_in_callers_get_every_value_unsuppressed(self, client, data, token):
        params = {"level": "department", "territory": "13", "page_size": 200}
        rows = {
            r["indicator_code"]: r for r in self.get(client, "indicator_values", params, token=token).json()["results"]
        }
        assert "permanences_interne" in rows
        median = rows["budget_median"]
        assert (median["value"], median["structure_count"], median["suppressed"]) == (731115, 2, False)
        assert median["first_quartile"] == 731114
        assert rows["observees"]["value"] == 2
        # A session (the interactive documentation) is the same as a token.
        client.force_login(UserFactory())
        session = self.get(client, "indicator_values", {**params, "indicator": "budget_median"}).json()
        assert session["results"][0]["value"] == 731115

    def test_a_wrong_token_is_refused_rather_than_read_as_anonymous(self, client, data):
        response = self.get(client, "indicator_values", token="cadre_faux")
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_the_page_and_the_api_agree(self, client, data):
        """A figure shown by the page is the API's, and a secret one is secret in both."""
        page = client.get(reverse("open_data:index"), {"year": 2025, "territory": "department:69"}).context
        lines = {line.indicator.code: line for _, group in page["themes"] for line in group}
        api = self.get(client, "indicator_values", {"level": "department", "territory": "69"}).json()["results"]
        for row in api:
            assert (lines[row["indicator_code"]].status == "suppressed") == row["suppressed"]
        assert lines["observees"].structures == "6"
