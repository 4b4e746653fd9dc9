"""Server-rendered SVG charts and maps: well-formed, accessible, drawn to scale, in French."""

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from cadre.core import charts
from cadre.core.charts import NOT_COMPUTABLE, bar_chart, comparison_bars, format_number, line_chart, stacked_bars
from cadre.territories import maps
from cadre.territories.maps import DepartmentFrame, department_communes_map, departments_map

SVG = "{http://www.w3.org/2000/svg}"
NNBSP, NBSP = "\u202f", "\u00a0"


def parse(figure):
    return ET.fromstring(str(figure.svg))


def all_of(root, tag, **attributes):
    return [e for e in root.iter(SVG + tag) if all(e.get(k.replace("_", "-")) == v for k, v in attributes.items())]


def bars(root, css_class="bar"):
    return [e for e in root.iter(SVG + "rect") if e.get("class") == css_class]


def width(rect):
    return float(rect.get("width"))


def text_content(root):
    return ["".join(e.itertext()) for e in root.iter(SVG + "text")]


def assert_accessible(figure):
    root = parse(figure)
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    assert root.get("width") == "100%"
    assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", root.get("viewBox"))
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert title.text == figure.title and desc.text == figure.description
    assert root.get("aria-labelledby").split() == [title.get("id"), desc.get("id")]
    assert "foreignObject" not in str(figure.svg) and "var(--" not in str(figure.svg)
    assert root.get("font-family") == "Marianne, Arial, sans-serif"
    return root


@pytest.mark.parametrize(
    ("value", "decimals", "unit", "expected"),
    [
        (Decimal("12.5"), 1, "%", f"12,5{NBSP}%"),
        (1234567, 0, "€", f"1{NNBSP}234{NNBSP}567{NBSP}€"),
        (8300, 0, "€", f"8{NNBSP}300{NBSP}€"),
        (Decimal("-1234.56"), 1, "", f"-1{NNBSP}234,6"),
        (-0.04, 1, "%", f"0,0{NBSP}%"),  # never "-0,0"
        (2.675, 2, "", "2,68"),  # the float as written, rounded half up (binary 2.675 is 2.67499…)
        (12, 0, "structures", f"12{NBSP}structures"),
        (0.5, 0, "", "1"),
        (None, 1, "%", NOT_COMPUTABLE),
        (float("nan"), 1, "%", NOT_COMPUTABLE),
    ],
)
def test_french_number_formatting(value, decimals, unit, expected):
    assert format_number(value, decimals, unit) == expected


def test_bar_lengths_are_proportional_and_none_is_not_drawn():
    figure = bar_chart(
        ["Rhône", "Ain", "Loire", "Isère"],
        [10, None, Decimal("20"), 40.0],
        title="Taux de couverture",
        unit="%",
        decimals=1,
        label_header="Département",
    )
    root = assert_accessible(figure)
    drawn = bars(root)
    assert [b.get("data-index") for b in drawn] == ["0", "2", "3"]
    w10, w20, w40 = (width(b) for b in drawn)
    assert w20 == pytest.approx(2 * w10, abs=0.2) and w40 == pytest.approx(4 * w10, abs=0.2)
    # All bars start on the zero line.
    assert len({b.get("x") for b in drawn}) == 1
    assert NOT_COMPUTABLE in text_content(root)
    assert figure.table.headers == ("Département", "Valeur")
    assert figure.table.rows == (
        ("Rhône", f"10,0{NBSP}%"),
        ("Ain", NOT_COMPUTABLE),
        ("Loire", f"20,0{NBSP}%"),
        ("Isère", f"40,0{NBSP}%"),
    )
    assert "1 non calculable" in figure.description and "Isère" in figure.description


def test_negative_bars_go_left_of_zero_in_another_colour():
    figure = bar_chart(["Excédent", "Déficit"], [Decimal("10000"), Decimal("-5000")], title="Résultat", unit="€")
    root = assert_accessible(figure)
    positive, negative = bars(root)
    zero = float(positive.get("x"))
    assert float(negative.get("x")) + width(negative) == pytest.approx(zero, abs=0.2)
    assert width(positive) == pytest.approx(2 * width(negative), abs=0.2)
    assert negative.get("fill") == charts.NEGATIVE_COLOUR != positive.get("fill")
    assert f"-5{NNBSP}000{NBSP}€" in text_content(root)
    assert figure.table.rows[1] == ("Déficit", f"-5{NNBSP}000{NBSP}€")


def test_reference_line_is_at_its_value_and_in_the_table():
    figure = bar_chart(["A", "B"], [10, 20], title="Taux", unit="%", reference=15, reference_label="France")
    root = parse(figure)
    first = bars(root)[0]
    (line,) = [e for e in root.iter(SVG + "line") if e.get("class") == "reference"]
    zero = float(first.get("x"))
    assert float(line.get("x1")) - zero == pytest.approx(1.5 * width(first), abs=0.2)
    assert f"France : 15{NBSP}%" in text_content(root)
    assert figure.table.rows[-1] == ("France (référence)", f"15{NBSP}%")


def test_labels_are_escaped_everywhere():
    label = "Centre <b>Soleil</b> & 'Lune'"
    figure = bar_chart([label], [3], title="Titre <script>", unit="€")
    markup = str(figure.svg)
    assert "<b>" not in markup and "<script>" not in markup
    root = parse(figure)  # still well-formed XML
    assert root.find(SVG + "title").text == "Titre <script>"
    assert any("Soleil" in t for t in text_content(root))
    assert bars(root)[0].find(SVG + "title").text.startswith(label)
    page = render_to_string("core/_figure.html", {"figure": figure})
    assert "&lt;b&gt;Soleil&lt;/b&gt; &amp;" in page and "<b>Soleil" not in page


def test_comparison_bars_one_bar_per_series_on_one_scale():
    figure = comparison_bars(
        ["Moins de 12 ans", "60 ans et plus"],
        {"Structure": [20, 10], "Département": [10, None], "France": [40, 5]},
        title="Adhérents par âge",
        unit="%",
        label_header="Classe d'âge",
    )
    root = assert_accessible(figure)
    drawn = bars(root)
    assert [(b.get("data-index"), b.get("data-series")) for b in drawn] == [
        ("0", "0"),
        ("0", "1"),
        ("0", "2"),
        ("1", "0"),
        ("1", "2"),
    ]
    widths = {(b.get("data-index"), b.get("data-series")): width(b) for b in drawn}
    assert widths[("0", "2")] == pytest.approx(4 * widths[("0", "1")], abs=0.2)
    assert widths[("1", "0")] == pytest.approx(2 * widths[("1", "2")], abs=0.2)
    assert len({b.get("fill") for b in drawn}) == 3
    assert figure.table.headers == ("Classe d'âge", "Structure", "Département", "France")
    assert figure.table.rows[1] == ("60 ans et plus", f"10{NBSP}%", NOT_COMPUTABLE, f"5{NBSP}%")
    assert [label for _, label in figure.legend] == ["Structure", "Département", "France"]
    assert "n.c. : non calculable" in text_content(root)


def test_stacked_bars_show_shares_of_known_parts():
    figure = stacked_bars(
        ["2024", "2025", "2026"],
        {"Caf": [300, 100, 50], "Communes": [100, None, -10], "État": [0, 100, 20]},
        title="Produits par financeur",
        unit="€",
        label_header="Exercice",
    )
    root = assert_accessible(figure)
    parts = bars(root, "part")
    row0 = [p for p in parts if p.get("data-index") == "0"]
    row1 = [p for p in parts if p.get("data-index") == "1"]
    assert [p.get("data-series") for p in row0] == ["0", "1"]  # a zero share is not drawn
    assert width(row0[0]) == pytest.approx(3 * width(row0[1]), abs=0.2)
    # None is left out of the total: the two known parts fill the bar half and half.
    assert [p.get("data-series") for p in row1] == ["0", "2"]
    assert width(row1[0]) == pytest.approx(width(row1[1]), abs=0.1)
    assert sum(width(p) for p in row0) == pytest.approx(sum(width(p) for p in row1), abs=0.2)
    assert not [p for p in parts if p.get("data-index") == "2"]  # a negative part: shares mean nothing
    assert figure.table.headers == ("Exercice", "Caf", "Communes", "État", "Total")
    assert figure.table.rows[0] == (
        "2024",
        f"300{NBSP}€ (75,0{NBSP}%)",
        f"100{NBSP}€ (25,0{NBSP}%)",
        f"0{NBSP}€ (0,0{NBSP}%)",
        f"400{NBSP}€",
    )
    assert figure.table.rows[1][2] == NOT_COMPUTABLE
    assert set(figure.table.rows[2][1:]) == {NOT_COMPUTABLE}


def test_line_chart_breaks_on_missing_years_and_values():
    figure = line_chart([2019, 2020, 2022, 2023, 2024], [10, 12, 15, None, 18], title="Bénévoles", unit="bénévoles")
    root = assert_accessible(figure)
    (line,) = all_of(root, "path", **{"class": "line"})  # only 2019-2020 are joined
    assert len(re.findall(r"[\d.]+,[\d.]+", line.get("d"))) == 2
    points = [e for e in root.iter() if e.get("class") == "point"]
    assert len(points) == 4
    xs = sorted(float(p.get("cx")) for p in points)
    # One step per year: 2020 -> 2022 is two steps apart, 2022 -> 2024 too.
    assert xs[2] - xs[1] == pytest.approx(2 * (xs[1] - xs[0]), abs=0.2)
    assert xs[3] - xs[2] == pytest.approx(xs[2] - xs[1], abs=0.2)
    assert figure.table.rows == (
        ("2019", f"10{NBSP}bénévoles"),
        ("2020", f"12{NBSP}bénévoles"),
        ("2021", "pas de donnée"),
        ("2022", f"15{NBSP}bénévoles"),
        ("2023", NOT_COMPUTABLE),
        ("2024", f"18{NBSP}bénévoles"),
    )


def test_line_chart_several_series_have_a_legend_and_a_column_each():
    figure = line_chart(
        [2024, 2025], {"Structure": [1, 2], "Département": [Decimal("1.5"), None]}, title="T", decimals=1
    )
    root = parse(figure)
    assert [label for _, label in figure.legend] == ["Structure", "Département"]
    assert figure.table.headers == ("Année", "Structure", "Département")
    assert figure.table.rows[1] == ("2025", "2,0", NOT_COMPUTABLE)
    assert len([e for e in root.iter() if e.get("class") == "point"]) == 3


# --- Maps ---------------------------------------------------------------------------------------


def absolute_points(d):
    """Points of a path written as M x y l dx dy … z (the only form maps.py writes)."""
    points = []
    for start, moves in re.findall(r"M(-?\d+ -?\d+)l([^Mz]*)z", d):
        x, y = map(int, start.split())
        points.append((x, y))
        numbers = list(map(int, moves.split()))
        for dx, dy in zip(numbers[::2], numbers[1::2], strict=True):
            x, y = x + dx, y + dy
            points.append((x, y))
    return points


def department_paths(root):
    return {e.get("data-code"): e for e in root.iter(SVG + "path") if e.get("data-code")}


def test_the_map_draws_the_101_departements_with_overseas_insets():
    figure = departments_map({"69": 12}, title="Carte", unit="%")
    root = assert_accessible(figure)
    paths = department_paths(root)
    assert len(paths) == 101 == len([e for e in root.iter(SVG + "path") if e.get("data-code")])
    assert {"2A", "2B", "971", "972", "973", "974", "976"} <= set(paths) and "20" not in paths
    for code in maps.DROM:
        assert max(x for x, _ in absolute_points(paths[code].get("d"))) <= 150  # in the left-hand column
    for code in ("29", "67", "2A", "59", "64"):
        assert min(x for x, _ in absolute_points(paths[code].get("d"))) > 150
    # Brest is west of Strasbourg, Lille north of Perpignan (y grows downwards).
    assert max(x for x, _ in absolute_points(paths["29"].get("d"))) < min(
        x for x, _ in absolute_points(paths["67"].get("d"))
    )
    assert max(y for _, y in absolute_points(paths["59"].get("d"))) < min(
        y for _, y in absolute_points(paths["66"].get("d"))
    )
    zoomed = {e.get("data-zoom") for e in root.iter(SVG + "path") if e.get("data-zoom")}
    assert zoomed == set(maps.PETITE_COURONNE)


def test_map_fill_classes_legend_and_table():
    values = {code: n for n, code in enumerate(["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"], 1)}
    values["13"] = None
    figure = departments_map(values, title="Indicateur", unit="%", classes=5, highlight="69")
    root = parse(figure)
    paths = department_paths(root)
    # Quantiles of 1…10 in five classes: [1, 3[, [3, 5[, [5, 7[, [7, 9[, [9, 10].
    assert [c.label for c in figure.classes] == [
        f"de 1{NBSP}% à moins de 3{NBSP}%",
        f"de 3{NBSP}% à moins de 5{NBSP}%",
        f"de 5{NBSP}% à moins de 7{NBSP}%",
        f"de 7{NBSP}% à moins de 9{NBSP}%",
        f"de 9{NBSP}% à 10{NBSP}%",
    ]
    expected = {"01": 0, "02": 0, "03": 1, "04": 1, "06": 2, "08": 3, "09": 4, "10": 4}
    for code, index in expected.items():
        assert paths[code].get("data-class") == str(index), code
        assert paths[code].get("fill") == figure.classes[index].colour
    colours = [c.colour for c in figure.classes]
    assert len(set(colours)) == 5 and colours[-1] == charts.BLUE_FRANCE
    # None: hatched with the pattern defined in this SVG; absent: "pas de donnée".
    hatch = paths["13"].get("fill")
    assert paths["13"].get("data-class") == "nc" and re.fullmatch(r"url\(#fig-\w+-nc\)", hatch)
    assert all_of(root, "pattern", id=hatch[5:-1])
    assert paths["75"].get("data-class") == "nd"
    assert paths["01"].find(SVG + "title").text == f"Ain (01) : 1{NBSP}%"
    assert all_of(root, "path", data_highlight="69")
    legend_texts = text_content(root)
    for label in [c.label for c in figure.classes] + [NOT_COMPUTABLE, "pas de donnée", "département mis en évidence"]:
        assert label in legend_texts
    assert figure.table.headers == ("Département", "Valeur", "Classe")
    assert len(figure.table.rows) == 11  # every département given a value, None included
    assert figure.table.rows[0] == ("Ain (01)", f"1{NBSP}%", figure.classes[0].label)
    assert figure.table.rows[-1] == ("Bouches-du-Rhône (13)", NOT_COMPUTABLE, NOT_COMPUTABLE)


def test_classes_use_rounded_values_and_equal_intervals():
    figure = departments_map(
        {"01": 0, "02": Decimal("19.96"), "03": 40, "04": 100}, title="T", unit="%", decimals=1, classes=5,
        method="equal",
    )  # fmt: skip
    assert [(c.lower, c.upper) for c in figure.classes] == [
        (0, 20),
        (20, 40),
        (40, 60),
        (60, 80),
        (80, 100),
    ]
    paths = department_paths(parse(figure))
    # 19.96 is shown "20,0 %": it belongs to the class that starts at 20,0 %.
    assert paths["02"].get("data-class") == "1" and paths["03"].get("data-class") == "2"
    assert figure.table.rows[1] == ("Aisne (02)", f"20,0{NBSP}%", f"de 20,0{NBSP}% à moins de 40,0{NBSP}%")


def test_corsica_is_listed_between_19_and_21():
    figure = departments_map({"21": 1, "2B": 2, "19": 3, "2A": 4, "971": 5}, title="T")
    assert [row[0] for row in figure.table.rows] == [
        "Corrèze (19)",
        "Corse-du-Sud (2A)",
        "Haute-Corse (2B)",
        "Côte-d'Or (21)",
        "Guadeloupe (971)",
    ]


def test_map_of_some_departements_only():
    region = [code for code, shape in maps.shapes().items() if shape.region == "93"]
    figure = departments_map(dict.fromkeys(region, 1), title="Provence-Alpes-Côte d'Azur", departments=region)
    assert set(department_paths(parse(figure))) == set(region) == {"04", "05", "06", "13", "83", "84"}
    with pytest.raises(ValueError):
        departments_map({}, title="T", departments=["69", "974"])


def test_projection_puts_paris_inside_paris():
    (ring,) = maps.shapes()["75"].rings
    assert point_in_ring(maps.project("metro", 48.8566, 2.3522), ring)
    assert not point_in_ring(maps.project("metro", 45.76, 4.83), ring)


def point_in_ring(point, ring):
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def in_shape(point, shape):
    return sum(point_in_ring(point, ring) for ring in shape.rings) % 2 == 1


def test_communes_map_places_proportional_circles():
    points = [
        ("69123", "Lyon", 45.7578, 4.8320, 400),
        ("69266", "Villeurbanne", 45.7719, 4.8902, 100),
        ("69259", "Vénissieux", 45.6975, 4.8868, -25),
        ("69029", "Bron", 45.7386, 4.9132, None),
        ("69999", "Sans lieu", None, None, 3),
    ]
    figure = department_communes_map("69", points, title="Structures par commune", unit="structures")
    root = assert_accessible(figure)
    circles = {e.get("data-code"): e for e in root.iter(SVG + "circle") if e.get("data-code")}
    assert set(circles) == {"69123", "69266", "69259", "69029"}
    r = {code: float(c.get("r")) for code, c in circles.items()}
    assert (r["69123"] / r["69266"]) ** 2 == pytest.approx(4, rel=0.02)  # area ∝ value
    assert (r["69266"] / r["69259"]) ** 2 == pytest.approx(4, rel=0.02)
    assert circles["69259"].get("fill") == charts.NEGATIVE_COLOUR
    assert "cnc" in circles["69029"].get("class") and circles["69029"].get("fill") == "#ffffff"
    # Lyon lies inside the Rhône outline drawn on the same frame.
    (outline,) = [e for e in root.iter(SVG + "path") if e.get("class") == "outline"]
    xs, ys = zip(*absolute_points(outline.get("d")), strict=True)
    assert min(xs) < float(circles["69123"].get("cx")) < max(xs) and min(ys) < float(circles["69123"].get("cy")) < max(
        ys
    )
    assert [row[0] for row in figure.table.rows] == [
        "Bron (69029)",
        "Lyon (69123)",
        "Sans lieu (69999)",
        "Vénissieux (69259)",
        "Villeurbanne (69266)",
    ]
    assert figure.table.rows[0][1] == NOT_COMPUTABLE
    assert "1 commune sans coordonnées" in figure.note


def test_communes_map_by_classes():
    points = [(f"974{i:02}", f"Commune {i}", -21.1, 55.3 + i * 0.05, i) for i in range(1, 7)]
    figure = department_communes_map("974", points, title="Taux", unit="%", proportional=False, classes=3)
    circles = [e for e in parse(figure).iter(SVG + "circle") if e.get("data-code")]
    assert {c.get("r") for c in circles} == {"8"}
    assert [c.get("fill") for c in circles][0] == figure.classes[0].colour
    assert [c.get("fill") for c in circles][-1] == figure.classes[-1].colour


@pytest.mark.django_db
def test_every_commune_of_the_rhone_falls_inside_its_outline():
    from cadre.territories.models import Commune

    shape = maps.shapes()["69"]
    centroids = Commune.objects.filter(department_id="69", kind=Commune.Kind.COMMUNE).values_list(
        "latitude", "longitude"
    )
    assert len(centroids) > 200
    inside = sum(in_shape(maps.project("metro", lat, lon), shape) for lat, lon in centroids)
    assert inside / len(centroids) > 0.98  # the outline is simplified; a border centroid may fall out


def test_department_frame_is_a_background_with_its_neighbours():
    frame = DepartmentFrame("2A")
    neighbours = {s.code for s in frame.neighbours()}
    assert neighbours == {"2B"}
    x, y = frame.project(41.9192, 8.7386)  # Ajaccio
    assert 0 < x < frame.width and 0 < y < frame.height
    root = ET.fromstring(str(frame.svg(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5"/>', title="Corse-du-Sud")))
    assert root.get("role") == "img" and root.find(SVG + "title").text == "Corse-du-Sud"
    assert [e.get("data-code") for e in root.iter(SVG + "path") if e.get("class") == "outline"] == ["2A"]
    assert ET.fromstring(str(maps.department_outline("973"))).find(SVG + "title").text == "Guyane (973)"
    with pytest.raises(ValueError):
        DepartmentFrame("975")


def test_figure_include_renders_the_svg_then_its_table():
    figure = bar_chart(["Rhône", "Ain"], [Decimal("12.5"), None], title="Taux de couverture", unit="%", decimals=1)
    page = render_to_string("core/_figure.html", {"figure": figure, "source": "observatoire 2025"})
    assert page.index("<figure") < page.index("<svg") < page.index("<figcaption") < page.index("</figure>")
    assert page.index("</figure>") < page.index('<div class="fr-table') < page.index("<caption>")
    assert "Taux de couverture" in page[page.index("<figcaption") : page.index("</figcaption>")]
    assert "Source : observatoire 2025" in page
    assert '<th scope="col">Valeur</th>' in page
    assert '<th scope="row">Ain</th>' in page and f"<td>{NOT_COMPUTABLE}</td>" in page
    assert f"<td>12,5{NBSP}%</td>" in page
