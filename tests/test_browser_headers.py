"""The framework agreement's header in Chromium: its title stays readable beside its actions at 1,280 px,
and on a phone the actions go below it; the page is audited by axe-core."""

import os
from pathlib import Path

import pytest

from cadre.agreements.models import FrameworkAgreement
from cadre.demo import cast
from tests.test_browser import AXE, audit, browser, log_in, page, site  # noqa: F401 — the module's fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(os.environ.get("CADRE_SCREENSHOTS", "/tmp"))


def overlaps(a, b):
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and (b["y"] < a["y"] + a["height"])
    )


@pytest.mark.parametrize(("width", "min_title_width"), [(1280, 700), (390, 300)])
def test_the_framework_header_keeps_its_title_readable_beside_its_actions(
    page,  # noqa: F811
    site,  # noqa: F811
    width,
    min_title_width,
):
    if not AXE.exists():
        pytest.fail("axe-core absent : lancez « make browser-deps ».")
    framework = FrameworkAgreement.objects.get(department_id="13", starts__year=2024)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, site, cast.CAF13)  # a co-chair: every action of the header is offered
    page.goto(f"{site}/conventions/cadres/{framework.uuid}/")
    title = page.get_by_role("heading", level=1)
    title.wait_for()
    page.screenshot(path=str(SHOTS / f"framework-header-{width}.png"))
    title_box = title.bounding_box()
    actions = page.get_by_role("list", name="Actions de la convention cadre").get_by_role("link")
    assert actions.count() == 5
    boxes = [actions.nth(i).bounding_box() for i in range(actions.count())]
    assert title_box["width"] >= min_title_width, title_box
    assert not [box for box in boxes if overlaps(title_box, box)]
    assert all(box["x"] + box["width"] <= width for box in boxes)  # nothing pushed off the screen
    if width < 576:  # a phone: the actions come after the title, not beside it
        assert all(box["y"] >= title_box["y"] + title_box["height"] for box in boxes)
    assert audit(page) == []
