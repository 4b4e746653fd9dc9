"""What a walk through every role met in the figures: the year pages open on, a structure's own
indicators, the documents owed and the French of inserted numbers and names."""

import datetime
import decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from cadre.indicators.compute import rebuild
from cadre.observatory.models import Campaign, SubmissionStatus
from cadre.partners.models import PartnerKind
from tests.factories import VENISSIEUX, VILLEURBANNE, PartnerFactory, UserFactory, member
from tests.test_indicators import observe

pytestmark = pytest.mark.django_db
D = decimal.Decimal


@pytest.fixture
def two_years(campaign, indicators):
    """2024 closed with three validated answers; 2025 still open with one validated and one submitted."""
    today = timezone.localdate()
    closed = Campaign.objects.create(
        year=2024,
        title="Observatoire 2024",
        questionnaire=campaign.questionnaire,
        opens_on=today - datetime.timedelta(days=400),
        closes_on=today - datetime.timedelta(days=300),
        opened_at=timezone.now(),
    )
    for budget in (100000, 200000, 300000):
        observe(closed, VILLEURBANNE, {"permanences": True, "budget_total": D(budget), "etp_total": D(2)})
    observe(campaign, VENISSIEUX, {"permanences": False, "budget_total": D(50000), "etp_total": D(1)})
    observe(campaign, VENISSIEUX, {"permanences": True}, status=SubmissionStatus.SUBMITTED)
    rebuild()
    caf69 = PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, departments=["69"])
    return {"caf69": member(UserFactory(email="avs@caf69.fr"), caf69), "open": campaign, "closed": closed}


class TestTheYearShown:
    def test_the_dashboard_opens_on_the_last_closed_campaign(self, client, two_years):
        client.force_login(two_years["caf69"])
        html = client.get(reverse("indicators:dashboard")).content.decode()
        assert "Rapport de l’observatoire 2024 — Rhône" in html
        assert "incomplet" not in html

    def test_an_open_year_chosen_says_it_is_incomplete_with_its_response_rate(self, client, two_years):
        client.force_login(two_years["caf69"])
        html = client.get(reverse("indicators:dashboard"), {"annee": 2025}).content.decode()
        assert "La campagne 2025 est encore ouverte" in html
        # One of the two questionnaires of the Rhône is validated.
        assert "taux de réponse à ce jour : 50,0\u00a0%" in html

    def test_the_report_opens_on_the_last_closed_campaign(self, client, two_years):
        client.force_login(two_years["caf69"])
        html = client.get(reverse("indicators:report")).content.decode()
        assert "Observatoire 2024 — Rhône" in html
        html = client.get(reverse("indicators:report"), {"annee": 2025}).content.decode()
        assert "La campagne 2025 est encore ouverte" in html

    def test_open_data_opens_on_the_last_closed_campaign(self, client, two_years):
        from cadre.indicators.models import Indicator

        Indicator.objects.update(is_public=True)
        html = client.get(reverse("open_data:index")).content.decode()
        assert '<option value="2024" selected>' in html
        html = client.get(reverse("open_data:index"), {"year": 2025}).content.decode()
        assert "La campagne 2025 est encore ouverte" in html
        csv = b"".join(client.get(reverse("open_data:values_csv")).streaming_content).decode()
        assert ";2024;" in csv and ";2025;" not in csv


class TestAStructuresOwnIndicators:
    @pytest.fixture
    def buers(self, two_years):
        """The first 2024 structure answers 2025 too, and its 2025 questionnaire is validated."""
        from cadre.observatory.models import Answer, Question, Submission

        structure = Submission.objects.filter(campaign=two_years["closed"]).order_by("pk").first().structure
        submission = Submission.objects.create(
            campaign=two_years["open"], structure=structure, status=SubmissionStatus.VALIDATED
        )
        questions = {q.code: q for q in Question.objects.filter(questionnaire=two_years["open"].questionnaire)}
        for code, value in {"permanences": False, "budget_total": D(150000), "etp_total": D(3)}.items():
            answer = Answer(submission=submission, question=questions[code])
            answer.value = value
            answer.save()
        rebuild()
        from cadre.accounts.models import Role

        return structure, member(UserFactory(email="directrice@buers.fr"), structure, Role.EDITOR)

    def page(self, client, buers):
        structure, staff = buers
        client.force_login(staff)
        return " ".join(client.get(reverse("indicators:structure", args=[structure.uuid])).content.decode().split())

    def test_a_share_speaks_of_the_structure_not_of_a_share_of_structures(self, client, buers):
        html = self.page(client, buers)
        row = html.split("Des partenaires tiennent-ils des permanences dans vos locaux ?")[1].split("</tr>")[0]
        assert "<td>non</td>" in row and "<td>oui</td>" in row  # 2025, then 2024
        assert "des structures du département" in row  # the département's share says what it is

    def test_the_departements_figures_say_whether_total_average_or_median(self, client, buers):
        html = self.page(client, buers)
        etp = html.split("ETP par structure</a>")[1].split("</tr>")[0]
        assert "moyenne par structure" in etp
        budget = html.split("Budget médian</a>")[1].split("</tr>")[0]
        assert "médiane" in budget

    def test_past_years_are_drawn_with_their_table(self, client, buers):
        html = self.page(client, buers)
        assert 'role="img"' in html
        assert "Données : Budget médian" in html
        assert "150 000" in html.split("Données : Budget médian")[1].split("</table>")[0].replace("\u202f", " ")


class TestFrench:
    def test_one_pluralising_helper_takes_the_singular_below_two(self):
        from cadre.core.french import plural, unit_for

        assert [plural(n, "structure") for n in (0, 1, 2)] == ["0 structure", "1 structure", "2 structures"]
        assert plural(D("1.5"), "heure") == "1,5 heure" and plural(12000, "structure") == "12\u202f000 structures"
        assert plural(3, "reste,restent", with_number=False) == "restent"
        assert (unit_for(0, "personnes"), unit_for(3, "personnes"), unit_for(1, "€")) == ("personne", "personnes", "€")

    def test_de_before_a_name_contracts_only_before_le_and_elides_before_a_vowel(self):
        from cadre.core.french import of

        assert of("Centre social des Buers") == "de Centre social des Buers"
        assert of("Le Centre social des Buers") == "du Centre social des Buers"
        assert of("Les Amis du quartier") == "des Amis du quartier"
        assert of("Élodie Martin") == "d’Élodie Martin" and of("Espace Mosaïque") == "d’Espace Mosaïque"

    def test_a_bound_says_au_moins_0_personne(self, questionnaire):
        from django.core.exceptions import ValidationError

        from cadre.observatory.models import Question

        question = Question(code="x", label="x", kind="integer", min_value=0, unit="personnes")
        with pytest.raises(ValidationError) as error:
            question.parse("-3")
        assert error.value.messages == ["La valeur doit être au moins 0 personne."]

    def test_pages_agree_their_numbers(self, client, two_years):
        client.force_login(two_years["caf69"])
        html = " ".join(client.get(reverse("indicators:dashboard"), {"annee": 2025}).content.decode().split())
        assert "(1 questionnaire validé sur 2)" in html
