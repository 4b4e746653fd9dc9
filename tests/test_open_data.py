"""Open data of the indicators: public page, method pages, CSV and API, without login.

Real values: six validated structures in Villeurbanne (Rhône, enough to publish), two in Marseille
(Bouches-du-Rhône, under the threshold of 5: statistical secrecy) and five in Pertuis (Vaucluse, the
other département of the same région, Provence-Alpes-Côte d'Azur: shown, the Bouches-du-Rhône would be
the région minus the Vaucluse — secondary secrecy). The Marseille budgets are chosen so that the
secret figures (731 113 and 731 117 €, median 731 115 €, quartiles 731 114 and 731 116 €) are
recognisable: none of them may appear anywhere public. A non-public indicator never shows to the public.
"""

import collections
import csv
import decimal
import functools
import io
import re
import statistics

import pytest
from django.urls import reverse
from django.utils.html import escape

from cadre.accounts.models import ApiToken
from cadre.indicators import queries
from cadre.indicators.actions import define_indicator
from cadre.indicators.compute import ADDITIVE, rebuild
from cadre.indicators.models import Indicator, IndicatorValue, Level
from cadre.indicators.public_views import SECONDARY_NOTE
from cadre.observatory.models import SubmissionStatus
from cadre.partners.models import PartnerKind
from cadre.structures.models import Structure
from cadre.territories.management.commands.load_territories import read
from cadre.territories.models import Commune, Department
from tests.conftest import INDICATOR_DEFINITIONS
from tests.factories import MARSEILLE_3E, VENISSIEUX, VILLEURBANNE, PartnerFactory, UserFactory, member
from tests.test_indicators import observe

pytestmark = pytest.mark.django_db
D = decimal.Decimal
NNBSP, NBSP = "\u202f", "\u00a0"
PERTUIS = "84089"  # Vaucluse, Métropole d'Aix-Marseille-Provence (with Marseille)
VAULX_EN_VELIN = "69256"  # Métropole de Lyon
CONDRIEU = "69064"  # Rhône, CA Vienne Condrieu (an EPCI across the Rhône and the Isère)
VIENNE = "38544"  # Isère, CA Vienne Condrieu
BOURGOIN_JALLIEU = "38053"  # Isère, CA Porte de l'Isère


INTERNAL = "Indicateur interne des permanences"
PUBLISHED = ("observees", "permanences", "budget_median", "euros_par_etp")
# The shared definitions of tests/conftest.py, published, and one that is not.
DEFINITIONS = {code: {**INDICATOR_DEFINITIONS[code], "is_public": True} for code in PUBLISHED}
DEFINITIONS["observees"]["method"] = "Nombre de structures dont le questionnaire est validé."
DEFINITIONS["permanences_interne"] = {
    **INDICATOR_DEFINITIONS["permanences"],
    "title": INTERNAL,
    "method": "Réservé aux partenaires.",
    "operator": "no",
    "is_public": False,
}
RHONE_BUDGETS = [100000, 110000, 120000, 130000, 140000, 150000]  # median 125 000 €
SECRET_BUDGETS = [731113, 731117]  # median 731 115 €: never public
VAUCLUSE_BUDGETS = [200000, 210000, 220000, 230000, 240000]
DEPARTMENTS = ["13", "69", "84"]  # with values


@pytest.fixture(autouse=True)
def threshold(settings):
    settings.CADRE_OPEN_DATA_MIN_STRUCTURES = 5


@functools.cache
def shipped_communes():
    return {row["code"]: row for row in read("communes")}


def add_commune(code):
    """A commune outside the test geography (the Rhône and the Bouches-du-Rhône), from the shipped data."""
    row = shipped_communes()[code]
    fields = {"name": row["nom"], "kind": row["type"], "department_id": row["departement"]}
    return Commune.objects.get_or_create(code=code, defaults={**fields, "epci_id": row["epci"] or None})[0]


def new_version(code):
    """The next version of a definition of DEFINITIONS (its method changed)."""
    return define_indicator(code, {**DEFINITIONS[code], "method": "Nouvelle méthode."})[1]


@pytest.fixture
def published(campaign):
    """The indicators of DEFINITIONS, without values yet."""
    return {code: define_indicator(code, fields, recompute=False)[1] for code, fields in DEFINITIONS.items()}


def observe_all(campaign, commune, count):
    """`count` validated structures in `commune`, all with the same answers."""
    for _ in range(count):
        observe(campaign, commune, {"permanences": True, "budget_total": D(100000), "etp_total": D(1)})


@pytest.fixture
def data(campaign, published):
    add_commune(PERTUIS)
    for i, budget in enumerate(RHONE_BUDGETS):
        # Half of them host a partner's office; nobody has any ETP: the budget per ETP divides by zero.
        observe(campaign, VILLEURBANNE, {"permanences": i % 2 == 0, "budget_total": D(budget), "etp_total": D(0)})
    for budget in SECRET_BUDGETS:
        observe(campaign, MARSEILLE_3E, {"permanences": True, "budget_total": D(budget), "etp_total": D(1)})
    observe(campaign, MARSEILLE_3E, {"budget_total": D(731119)}, status=SubmissionStatus.SUBMITTED)  # not validated
    for i, budget in enumerate(VAUCLUSE_BUDGETS):
        observe(campaign, PERTUIS, {"permanences": i < 2, "budget_total": D(budget), "etp_total": D(2)})
    rebuild()
    return published


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
    """The setting of the other tests: Rhône published, Bouches-du-Rhône under the threshold, and the
    Vaucluse, its only neighbour in their région, with enough structures."""
    assert value("observees", Level.DEPARTMENT, "69").value == len(RHONE_BUDGETS) >= 5
    assert value("observees", Level.DEPARTMENT, "13").structure_count == len(SECRET_BUDGETS) < 5
    assert value("observees", Level.DEPARTMENT, "84").structure_count == len(VAUCLUSE_BUDGETS) >= 5
    assert value("observees", Level.REGION, "93").structure_count == len(SECRET_BUDGETS + VAUCLUSE_BUDGETS)
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
        new = new_version("observees")
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
        assert len(rows) == 1 + len(PUBLISHED) * len(DEPARTMENTS)  # every published indicator × département
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
        every_budget = RHONE_BUDGETS + SECRET_BUDGETS + VAUCLUSE_BUDGETS
        assert france[5] == "" and france[6] == "France" and france[9] == str(len(every_budget))
        assert france[7] == str(statistics.median(every_budget))  # resting on enough structures: published
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
        new_version("observees")
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
        assert (page["count"], len(page["results"])) == (len(PUBLISHED) * len(DEPARTMENTS), 3)
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


# -- secondary secrecy ---------------------------------------------------------------------------

LEVELS_BY_LABEL = {str(label): level for level, label in Level.choices}
PRIMARY_TEXT = "secret statistique (moins de 5 structures)"
SECONDARY_TEXT = f"secret statistique ({SECONDARY_NOTE})"
ADDITIVE_PUBLISHED = [code for code in PUBLISHED if DEFINITIONS[code]["kind"] in ADDITIVE]


def public_csv(client, **params):
    """{(indicator code, level, territory code): CSV row} of the public CSV of 2025 (every level by default)."""
    _, rows = read_csv(client.get(reverse("open_data:values_csv"), {"year": 2025, **params}))
    return {(row[0], LEVELS_BY_LABEL[row[4]], row[5]): row for row in rows[1:]}


def is_secret(row):
    return row[10].startswith("secret statistique")


def partitions(indicator):
    """{parent: {parts}} of the values of `indicator` in 2025 resting on at least one structure: France = its
    régions, a région = its départements, a département = its communes, an EPCI = its communes."""
    regions = dict(Department.objects.values_list("code", "region_id"))
    communes = {
        code: (department, epci)
        for code, department, epci in Commune.objects.values_list("code", "department_id", "epci_id")
    }
    found = collections.defaultdict(set)
    rows = IndicatorValue.objects.filter(indicator=indicator, year=2025, structure_count__gt=0)
    for level, code in rows.values_list("level", "territory"):
        above = []
        if level == Level.REGION:
            above = [(Level.NATIONAL, "")]
        elif level == Level.DEPARTMENT:
            above = [(Level.REGION, regions[code])]
        elif level == Level.COMMUNE:
            department, epci = communes[code]
            above = [(Level.DEPARTMENT, department)] + ([(Level.EPCI, epci)] if epci else [])
        for parent in above:
            found[parent].add((level, code))
    return found


def assert_nothing_deducible(client):
    """No withheld figure of the public CSV is the difference of published ones: in no partition of an
    additive indicator is exactly one value withheld (a value resting on no structure adds nothing)."""
    public = public_csv(client)
    for indicator in Indicator.objects.current().filter(is_public=True, kind__in=ADDITIVE):
        for parent, parts in partitions(indicator).items():
            withheld = [place for place in (parent, *parts) if is_secret(public[(indicator.code, *place)])]
            assert len(withheld) != 1, f"{indicator.code} : {withheld[0]} se déduit de {parent} et de ses parties"


def structures(code, level, territory):
    return value(code, level, territory).structure_count


class TestSecondarySecrecy:
    def test_a_region_with_one_small_departement_withholds_the_other_one(self, client, data):
        departments = {place for _, place in partitions(data["observees"])[(Level.REGION, "93")]}
        small = {code for code in departments if structures("observees", Level.DEPARTMENT, code) < 5}
        assert len(departments) == 2 and len(small) == 1
        (other,) = departments - small
        assert structures("observees", Level.DEPARTMENT, other) >= 5
        # The page of the other département: each additive figure withheld, and said why.
        page = client.get(reverse("open_data:index"), {"year": 2025, "territory": f"department:{other}"})
        lines = {line.indicator.code: line for _, group in page.context["themes"] for line in group}
        for code in ADDITIVE_PUBLISHED:
            line = lines[code]
            assert (line.status, line.text, line.structures) == ("suppressed", "secret statistique", "non publié")
            assert SECONDARY_NOTE in line.note
        assert lines["budget_median"].status == "published"  # a median is not deduced by difference
        assert escape(SECONDARY_NOTE) in page.content.decode()
        # The map of the départements says it too.
        mapped = client.get(reverse("open_data:index"), {"year": 2025, "map": "observees"}).context["figure"]
        rows = {row[0]: row[1:] for row in mapped.table.rows}
        assert rows["Vaucluse (84)"] == (SECONDARY_TEXT, "secret statistique")
        assert rows["Bouches-du-Rhône (13)"] == (PRIMARY_TEXT, "secret statistique")
        # The CSV: neither the value nor the number of structures.
        public = public_csv(client, level="department")
        for code in ADDITIVE_PUBLISHED:
            assert {public[(code, Level.DEPARTMENT, d)][10] for d in small} == {PRIMARY_TEXT}
            row = public[(code, Level.DEPARTMENT, other)]
            assert (row[7], row[9], row[10]) == ("", "", SECONDARY_TEXT)
        assert public[("budget_median", Level.DEPARTMENT, other)][10] == "publiée"
        # The anonymous API: nulled like a primary secret.
        params = {"level": "department", "territory": other, "page_size": 200}
        rows = {
            r["indicator_code"]: r for r in client.get(reverse("api-1.0.0:indicator_values"), params).json()["results"]
        }
        for code in ADDITIVE_PUBLISHED:
            assert (rows[code]["suppressed"], rows[code]["status"]) == (True, "suppressed")
            for field in ("value", "numerator", "denominator", "structure_count"):
                assert rows[code][field] is None
        assert rows["budget_median"]["suppressed"] is False
        # The région itself stays published: minus the other département, it would have given the small one.
        region = client.get(reverse("api-1.0.0:indicator_values"), {"level": "region", "territory": "93"}).json()
        assert {r["suppressed"] for r in region["results"]} == {False}
        assert_nothing_deducible(client)

    def test_a_departement_with_three_communes_withholds_the_smallest_other(self, client, campaign, published):
        for commune, count in ((VILLEURBANNE, 7), (VENISSIEUX, 6), (VAULX_EN_VELIN, 2)):
            observe_all(campaign, commune, count)
        rebuild()
        communes = {place for _, place in partitions(published["observees"])[(Level.DEPARTMENT, "69")]}
        count = {code: structures("observees", Level.COMMUNE, code) for code in communes}
        small = [code for code in communes if count[code] < 5]
        assert len(communes) == 3 and len(small) == 1
        fewest, third = sorted(set(communes) - set(small), key=lambda code: (count[code], code))
        public = public_csv(client, level="commune")
        for code in ADDITIVE_PUBLISHED:
            assert public[(code, Level.COMMUNE, small[0])][10] == PRIMARY_TEXT
            assert public[(code, Level.COMMUNE, fewest)][10] == SECONDARY_TEXT
            assert public[(code, Level.COMMUNE, third)][10] == "publiée"
            assert public[(code, Level.COMMUNE, third)][9] == str(count[third])
        assert public[("budget_median", Level.COMMUNE, fewest)][10] == "publiée"
        assert_nothing_deducible(client)

    def test_signed_in_partners_still_see_every_value(self, client, data):
        partner = PartnerFactory(name="Caf du Vaucluse", kind=PartnerKind.CAF, departments=["84"])
        client.force_login(member(UserFactory(), partner))
        html = client.get(reverse("indicators:dashboard"), {"annee": 2025, "territoire": "department:84"}).content
        html = html.decode()
        assert f"{len(VAUCLUSE_BUDGETS)}{NBSP}structures" in html  # the count, withheld in public
        assert f"40,0{NBSP}%" in html  # 2 of the 5 host a partner's office
        assert "secret statistique" not in html
        params = {"level": "department", "territory": "84", "indicator": "observees"}
        (row,) = client.get(reverse("api-1.0.0:indicator_values"), params).json()["results"]
        assert (row["suppressed"], row["value"]) == (False, len(VAUCLUSE_BUDGETS))
        # The open data page stays the public's, whoever looks.
        page = client.get(reverse("open_data:index"), {"year": 2025, "territory": "department:84"})
        lines = {line.indicator.code: line for _, group in page.context["themes"] for line in group}
        assert lines["observees"].status == "suppressed"

    def test_a_value_withheld_to_protect_another_is_protected_in_turn(self, client, campaign, published):
        """Repeated until stable: the Isère's second commune, withheld because of its small one, shares its
        EPCI (across the Rhône and the Isère) with a commune of the Rhône, withheld in turn; then the Rhône
        has a single withheld commune, which the others would give by difference, and so on."""
        for code in (VIENNE, BOURGOIN_JALLIEU):
            add_commune(code)
        for commune, count in ((BOURGOIN_JALLIEU, 2), (VIENNE, 5), (CONDRIEU, 5), (VILLEURBANNE, 6), (VENISSIEUX, 7)):
            observe_all(campaign, commune, count)
        rebuild()
        epci = Commune.objects.get(code=CONDRIEU).epci_id
        assert Commune.objects.get(code=VIENNE).epci_id == epci  # one EPCI over two départements
        public = public_csv(client)
        isere = {code for _, code in partitions(published["observees"])[(Level.DEPARTMENT, "38")]}
        assert [code for code in isere if not is_secret(public[("observees", Level.COMMUNE, code)])] == []
        assert is_secret(public[("observees", Level.COMMUNE, CONDRIEU)])  # Vienne's partner in their EPCI
        rhone = partitions(published["observees"])[(Level.DEPARTMENT, "69")]
        assert sum(is_secret(public[("observees", *place)]) for place in rhone) >= 2
        assert_nothing_deducible(client)

    def test_a_value_withheld_to_protect_another_is_not_the_sum_of_its_parts(self, client, campaign, published):
        """France has two régions and one is small: the other is withheld, but it would be the sum of its
        départements — so one of them is withheld too, and so on down to the communes and their EPCI."""
        observe_all(campaign, VILLEURBANNE, 6)
        observe_all(campaign, MARSEILLE_3E, 2)
        rebuild()
        public = public_csv(client)
        assert [is_secret(public[("observees", Level.REGION, code)]) for code in ("84", "93")] == [True, True]
        assert not is_secret(public[("observees", Level.NATIONAL, "")])
        # The Auvergne-Rhône-Alpes, the Rhône, Villeurbanne and the Métropole de Lyon: the same six structures.
        assert is_secret(public[("observees", Level.DEPARTMENT, "69")])
        assert is_secret(public[("observees", Level.COMMUNE, VILLEURBANNE)])
        assert is_secret(public[("observees", Level.EPCI, Commune.objects.get(code=VILLEURBANNE).epci_id)])
        assert not is_secret(public[("budget_median", Level.DEPARTMENT, "69")])
        assert_nothing_deducible(client)

    def test_the_withheld_values_follow_a_refresh(self, client, campaign, data):
        assert is_secret(public_csv(client, level="department")[("observees", Level.DEPARTMENT, "84")])
        observe_all(campaign, MARSEILLE_3E, 5)  # the Bouches-du-Rhône is no longer small
        rebuild()
        public = public_csv(client, level="department")
        assert [is_secret(public[("observees", Level.DEPARTMENT, code)]) for code in DEPARTMENTS] == [False] * 3
        assert queries.withheld(data["observees"], 2025) == set()


def test_the_csv_is_made_once_until_the_values_change(client, campaign, data, django_assert_max_num_queries):
    def department_69():
        _, rows = read_csv(client.get(reverse("open_data:values_csv"), {"year": 2025, "level": "department"}))
        return next(row for row in rows if row[0] == "observees" and row[5] == "69")

    before = department_69()
    with django_assert_max_num_queries(5):  # the indicators, the years and the stamp: not the values
        assert department_69() == before
    observe_all(campaign, VILLEURBANNE, 1)
    rebuild()
    assert int(department_69()[9]) == int(before[9]) + 1


def test_the_territories_offered_are_read_once_until_the_values_change(client, campaign, data):
    def offered():
        form = client.get(reverse("open_data:index")).context["form"]
        return {key for group in form.fields["territory"].choices for key in _keys(group)}

    assert f"commune:{MARSEILLE_3E}" not in offered()
    observe_all(campaign, MARSEILLE_3E, 3)  # 5 validated structures: its figures can be shown
    assert f"commune:{MARSEILLE_3E}" not in offered()  # not refreshed yet: the values are the same
    rebuild()
    assert f"commune:{MARSEILLE_3E}" in offered()


def test_the_page_of_a_territory_shows_new_values_at_once(client, campaign, data):
    """Its tables and map are kept rendered until the values change."""

    def observed_in_69():
        html = client.get(reverse("open_data:index"), {"year": 2025, "territory": "department:69"}).content.decode()
        url = reverse("open_data:indicator", args=[data["observees"].uuid])
        row = html.split(f'href="{url}"')[1].split("</tr>")[0]
        return re.sub(r"<[^>]+>", " ", row).split()

    before = observed_in_69()
    assert observed_in_69() == before
    observe_all(campaign, VILLEURBANNE, 1)
    rebuild()
    assert observed_in_69() != before
