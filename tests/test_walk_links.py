"""Every link and search form of every page the demo cast can open leads somewhere it may go: no 403, no 404.

The starting pages are those of the role × URL matrix (tests/test_access.py) that the role opens; each
distinct target is followed once, a few per URL name, so the walk stays quick.
"""

import collections
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.urls import Resolver404, resolve, reverse

from cadre.accounts.models import User
from cadre.agreements.models import Agreement, AgreementKind
from cadre.demo import cast

from tests.test_access import EMAILS, MATRIX, ROLES, build_objects  # isort: skip — loads the access_* rows
from tests.access_agreements import a_document  # isort: skip
from tests.access_indicators import with_values  # isort: skip

pytestmark = pytest.mark.django_db

PER_NAME = 3  # targets followed per URL name (and role): enough to meet each template's links
SKIPPED_PREFIXES = ("/static/", "/media/", "/admin/", "/api/")
SKIPPED_NAMES = {"accounts:logout", "oidc_authentication_init", "oidc_logout", "oidc_authentication_callback"}


class Links(HTMLParser):
    """The `<a href>` and the `<form action>` sent by GET of one page."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.urls.append(attrs["href"])
        elif tag == "form" and (attrs.get("method") or "get").lower() == "get":
            self.urls.append(attrs.get("action") or "")


def same_site_targets(page_url, html):
    parser = Links()
    parser.feed(html)
    for href in parser.urls:
        if href.startswith(("#", "mailto:", "tel:", "javascript:")):
            continue
        url = urljoin(page_url, href)
        parts = urlsplit(url)
        if parts.scheme not in ("", "http") or parts.netloc not in ("", "testserver"):
            continue  # another site
        if parts.path.startswith(SKIPPED_PREFIXES):
            continue
        yield parts.path + (f"?{parts.query}" if parts.query else "")


def url_name(path):
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.view_name


def is_page(response):
    return response.status_code == 200 and response["Content-Type"].startswith("text/html")


@pytest.fixture(scope="module")
def objects(demo, django_db_blocker):
    """The matrix's objects and the indicators' values, made once for every role (rolled back with the demo)."""
    with django_db_blocker.unblock():
        with_values("")  # before a definition page's builder defines a lone indicator without values
        return build_objects()


@pytest.mark.parametrize("role", ROLES)
def test_no_link_leads_to_a_refusal(client, objects, role):
    if role != "anonymous":
        client.force_login(User.objects.get(email=EMAILS[role]))
    found_on = {}  # target -> first page that links to it
    followed = collections.defaultdict(set)  # URL name -> targets followed
    queue = []
    failures = []
    downloads = set()  # URL names that answer with a file
    for name, (method, build, expected) in sorted(MATRIX.items()):
        if method != "get" or expected[role] != 200 or name.startswith(("api-", "admin:")):
            continue
        start = build(objects)
        followed[name].add(start)
        if "." in start.split("?")[0].rsplit("/", 1)[-1]:
            downloads.add(name)  # a file (rapport.pdf, .xlsx, .ics): no links in it, its status is the matrix's
            continue
        response = client.get(start)
        if response.status_code != 200:
            failures.append(f"{response.status_code} {start} (page de départ)")
        if is_page(response):
            queue.append((start, response))
        else:
            downloads.add(name)

    while queue:
        page, response = queue.pop(0)
        for target in same_site_targets(page, response.content.decode()):
            name = url_name(target.split("?")[0])
            if target in found_on or name in SKIPPED_NAMES:
                continue
            found_on[target] = page
            limit = 1 if name in downloads else PER_NAME  # a file (PDF, workbook) is slow to make: once
            if name is not None and (target in followed[name] or len(followed[name]) >= limit):
                continue
            followed[name].add(target)
            answer = client.get(target)
            if answer.status_code in (403, 404):
                failures.append(f"{answer.status_code} {target} (lien de {page})")
            elif is_page(answer) and name is not None:
                queue.append((target, answer))
            elif answer.status_code == 200:
                downloads.add(name)
    assert found_on, "aucun lien suivi"
    assert not failures, f"{role} : " + "\n".join(failures)


def test_the_city_viewer_is_offered_no_import_of_answers(client, objects):
    url = reverse("observatory:campaign", args=[objects["campaign"].uuid])
    client.force_login(User.objects.get(email=cast.CITY_VILLEURBANNE))
    assert "Importer des réponses" not in client.get(url).content.decode()
    client.force_login(User.objects.get(email=cast.CAF69))
    assert "Importer des réponses" in client.get(url).content.decode()


def test_a_tripartite_agreement_names_the_structures_a_party_cannot_open_without_linking_them(client, objects):
    agreement = Agreement.objects.get(kind=AgreementKind.TRIPARTITE)
    client.force_login(User.objects.get(email=cast.STRUCTURE_A))
    html = client.get(reverse("agreements:detail", args=[agreement.uuid])).content.decode()
    parties = [party.structure for party in agreement.parties.filter(structure__isnull=False)]
    others = [s for s in parties if s != objects["a"]]
    assert others and objects["a"] in parties
    assert reverse("structures:detail", args=[objects["a"].uuid]) in html
    for structure in others:
        assert structure.name in html
        assert reverse("structures:detail", args=[structure.uuid]) not in html


def test_a_federation_sees_which_documents_a_member_deposited_without_a_link_it_could_not_open(client, objects):
    document = a_document(objects)
    url = reverse("funding:documents", args=[objects["a"].uuid])
    client.force_login(User.objects.get(email=cast.FEDERATION69))
    html = client.get(url).content.decode()
    assert document.file_name in html
    assert reverse("funding:document", args=[document.uuid]) not in html
    client.force_login(User.objects.get(email=cast.CAF69))  # its funder reads it
    assert reverse("funding:document", args=[document.uuid]) in client.get(url).content.decode()
