"""SVG maps of the départements, each with the table of its data (same Figure as cadre.core.charts).

Contours come from data/departements_contours.json.gz, projected and rounded once by
data/build.py (IGN Admin Express via gregoiredavid/france-geojson, Licence Ouverte): nothing is
read outside the repository at run time and no database query is made, so a PDF or a test can
draw a map as cheaply as a page.

Mainland France and Corsica use a Lambert conformal conic projection (Lambert-93's parallels) on
the sphere; each overseas département has its own local projection and is drawn in a box at the
left of the national map, at its own scale.
"""

import bisect
import gzip
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from cadre.core.charts import (
    AXIS_COLOUR,
    BLUE_FRANCE,
    MUTED_COLOUR,
    NEGATIVE_COLOUR,
    NOT_COMPUTABLE,
    TEXT_COLOUR,
    Figure,
    Table,
    element,
    figure_id,
    format_number,
    multiline_text,
    round_decimal,
    svg_document,
    text,
    text_width,
    tooltip,
)

CONTOURS = Path(__file__).resolve().parent / "data" / "departements_contours.json.gz"
CONTOUR_UNIT_KM = 0.1  # coordinates are stored as integers of 100 m
EARTH_RADIUS_KM = 6371.0
DROM = ("971", "972", "973", "974", "976")
PETITE_COURONNE = ("75", "92", "93", "94")
# The Licence Ouverte asks reusers to credit the source.
BASEMAP_CREDIT = "Fond de carte : IGN, Admin Express 2018 (Licence Ouverte)."

# Spherical Lambert conformal conic with Lambert-93's standard parallels and centre.
_PHI1, _PHI2, _PHI0, _LAMBDA0 = (math.radians(a) for a in (44.0, 49.0, 46.5, 3.0))


def _t(phi):
    return math.tan(math.pi / 4 + phi / 2)


_CONE = math.log(math.cos(_PHI1) / math.cos(_PHI2)) / math.log(_t(_PHI2) / _t(_PHI1))
_F = math.cos(_PHI1) * _t(_PHI1) ** _CONE / _CONE
_RHO0 = EARTH_RADIUS_KM * _F / _t(_PHI0) ** _CONE

# Overseas: small territories, so an equirectangular projection around their centre is true enough.
DROM_CENTRES = {
    "971": (16.2, -61.5),
    "972": (14.65, -61.0),
    "973": (4.0, -53.0),
    "974": (-21.1, 55.5),
    "976": (-12.8, 45.15),
}


def zone_of(department_code):
    """'metro' or the code of an overseas département: the projection a département is drawn in."""
    return department_code if department_code in DROM_CENTRES else "metro"


def project(zone, latitude, longitude):
    """(x, y) in km, y towards the north, in the plane of `zone` (see zone_of)."""
    phi, lam = math.radians(latitude), math.radians(longitude)
    if zone == "metro":
        rho = EARTH_RADIUS_KM * _F / _t(phi) ** _CONE
        theta = _CONE * (lam - _LAMBDA0)
        return rho * math.sin(theta), _RHO0 - rho * math.cos(theta)
    lat0, lon0 = (math.radians(a) for a in DROM_CENTRES[zone])
    return EARTH_RADIUS_KM * math.cos(lat0) * (lam - lon0), EARTH_RADIUS_KM * (phi - lat0)


@dataclass(frozen=True)
class Shape:
    code: str
    name: str
    region: str
    zone: str
    rings: tuple[tuple[tuple[float, float], ...], ...]  # km
    bbox: tuple[float, float, float, float]  # min x, min y, max x, max y


@cache
def shapes() -> dict[str, Shape]:
    """The 101 départements by code, read once per process."""
    with gzip.open(CONTOURS, "rt", encoding="utf-8") as handle:
        payload = json.load(handle)
    unit = payload["unit_km"]
    result = {}
    for item in payload["departments"]:
        rings = []
        for flat in item["rings"]:  # x0, y0, then deltas
            x = y = 0
            ring = []
            for i in range(0, len(flat), 2):
                x, y = x + flat[i], y + flat[i + 1]
                ring.append((x * unit, y * unit))
            rings.append(tuple(ring))
        xs = [p[0] for ring in rings for p in ring]
        ys = [p[1] for ring in rings for p in ring]
        result[item["code"]] = Shape(
            item["code"], item["name"], item["region"], zone_of(item["code"]), tuple(rings),
            (min(xs), min(ys), max(xs), max(ys)),
        )  # fmt: skip
    return result


def department_name(code):
    shape = shapes().get(code)
    return shape.name if shape else code


def sort_key(code):
    # Corsica's 2A and 2B sit between 19 and 21, as in every French list.
    return code.replace("2A", "20A").replace("2B", "20B")


def _union(boxes):
    boxes = list(boxes)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


class Fit:
    """Places a km bounding box in an SVG box (x, y, width, height), centred, north up."""

    def __init__(self, bbox, box):
        min_x, min_y, max_x, max_y = bbox
        x, y, width, height = box
        self.scale = min(width / max(max_x - min_x, 1e-9), height / max(max_y - min_y, 1e-9))
        self.offset_x = x + (width - (max_x - min_x) * self.scale) / 2 - min_x * self.scale
        self.offset_y = y + (height - (max_y - min_y) * self.scale) / 2 + max_y * self.scale

    def __call__(self, x, y):
        return self.offset_x + x * self.scale, self.offset_y - y * self.scale

    def path(self, shape):
        """Path data in whole units, relative moves; points that round together are dropped, the
        same way on both sides of a shared border, so neighbours still meet."""
        parts = []
        for ring in shape.rings:
            points = []
            for x, y in ring:
                sx, sy = self(x, y)
                point = (round(sx), round(sy))
                if not points or point != points[-1]:
                    points.append(point)
            if len(points) > 1 and points[-1] == points[0]:
                points.pop()
            if len(points) < 3:
                continue
            deltas = " ".join(f"{b[0] - a[0]} {b[1] - a[1]}" for a, b in zip(points, points[1:], strict=False))
            parts.append(f"M{points[0][0]} {points[0][1]}l{deltas}z")
        return "".join(parts)


# --- Classes and colours ------------------------------------------------------------------------


def _lab(hex_colour):
    def linear(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(hex_colour[i : i + 2], 16)) for i in (1, 3, 5))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t):
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _hex(lab):
    lightness, a, b = lab
    fy = (lightness + 16) / 116
    fx, fz = fy + a / 500, fy - b / 200

    def inverse(t):
        return t**3 if t**3 > 216 / 24389 else (116 * t - 16) / (24389 / 27)

    x, y, z = inverse(fx) * 0.95047, inverse(fy), inverse(fz) * 1.08883
    rgb = (
        3.2406 * x - 1.5372 * y - 0.4986 * z,
        -0.9689 * x + 1.8758 * y + 0.0415 * z,
        0.0557 * x - 0.2040 * y + 1.0570 * z,
    )

    def gamma(c):
        c = min(max(c, 0), 1)
        return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055

    return "#" + "".join(f"{round(gamma(c) * 255):02x}" for c in rgb)


# Light to dark around the DSFR blues (blue france 925, 625, 113): one hue, so the order reads
# the same for every colour-vision deficiency and in grey-scale print.
RAMP_STOPS = ("#e3e3fd", "#8585f6", "#000091")


def sequential_colours(count):
    """`count` colours from light to blue france, evenly spaced in CIELAB."""
    if count == 1:
        return [RAMP_STOPS[1]]
    stops = [_lab(c) for c in RAMP_STOPS]
    colours = []
    for i in range(count):
        position = i / (count - 1) * (len(stops) - 1)
        k = min(int(position), len(stops) - 2)
        t = position - k
        colours.append(_hex(tuple(a + (b - a) * t for a, b in zip(stops[k], stops[k + 1], strict=True))))
    return colours


@dataclass(frozen=True)
class ValueClass:
    lower: Decimal
    upper: Decimal
    colour: str
    label: str


def classify(numbers, *, classes=5, method="quantile", decimals=0, unit=""):
    """Classes of the (already rounded) numbers: quantiles (about as many départements in each) or
    equal intervals. Bounds are rounded like the values, so a value shown "12,5 %" is never in the
    class "de 10,0 % à moins de 12,5 %"."""
    known = sorted(n for n in numbers if n is not None)
    if not known:
        return []
    low, high = known[0], known[-1]
    if method == "quantile":
        breaks = {known[int(i * len(known) / classes)] for i in range(1, classes)}
    elif method == "equal":
        step = (high - low) / classes
        breaks = {round_decimal(low + step * i, decimals) for i in range(1, classes)}
    else:
        raise ValueError(f"Méthode de classes inconnue : {method}")
    breaks = sorted(b for b in breaks if low < b <= high)
    lowers, uppers = [low, *breaks], [*breaks, high]
    colours = sequential_colours(len(lowers))
    result = []
    for i, (lower, upper) in enumerate(zip(lowers, uppers, strict=True)):
        last = i == len(lowers) - 1
        if lower == upper:
            label = format_number(lower, decimals, unit)
        elif last:
            label = f"de {format_number(lower, decimals, unit)} à {format_number(upper, decimals, unit)}"
        else:
            label = f"de {format_number(lower, decimals, unit)} à moins de {format_number(upper, decimals, unit)}"
        result.append(ValueClass(lower, upper, colours[i], label))
    return result


def class_index(value_classes, number):
    """Index of the class of a rounded number (the last class includes its upper bound)."""
    return bisect.bisect_right([c.lower for c in value_classes], number) - 1


# --- Figures ------------------------------------------------------------------------------------

WIDTH = 1000
FONT = 20  # a 1000-unit-wide map is often shown 600 px wide: 12 px
NO_DATA_FILL = "#ffffff"  # white, outlined in grey: nothing to read there
BORDER = "#ffffff"
LAND = "#f6f6f6"


@dataclass(frozen=True)
class MapFigure(Figure):
    classes: tuple[ValueClass, ...] = ()


def _hatch(fid):
    return element(
        "defs",
        element(
            "pattern",
            element("rect", width=8, height=8, fill="#ffffff")
            + element("path", d="M-2 2l4-4M0 8l8-8M6 10l4-4", stroke="#777777", stroke_width=1.4),
            id=f"{fid}-nc",
            width=8,
            height=8,
            patternUnits="userSpaceOnUse",
        ),
    )


def _legend(items, top, fid):
    """Legend rows under the map: (fill, label) with fill a colour, 'hatch', 'none' (outlined)
    or ('circle', radius, colour, outline). Returns (markup, height)."""
    widest = max((text_width(label, FONT) for _, label in items), default=0) + 44
    columns = max(1, min(3, int(WIDTH // widest)))
    column_w = WIDTH / columns
    parts = []
    for i, (fill, label) in enumerate(items):
        x, y = (i % columns) * column_w, top + (i // columns) * 34
        if isinstance(fill, tuple):
            _, radius, colour, outline = fill
            parts.append(
                element("circle", cx=x + 15.0, cy=y + 11.0, r=float(radius), fill=colour, stroke=outline,
                        stroke_width=1.5)
            )  # fmt: skip
        elif fill == "hatch":
            parts.append(element("rect", x=float(x), y=float(y), width=30, height=22, fill=f"url(#{fid}-nc)",
                                 stroke=AXIS_COLOUR))  # fmt: skip
        elif fill == "none":
            parts.append(element("rect", x=x + 1.5, y=y + 1.5, width=27, height=19, fill=LAND, stroke=TEXT_COLOUR,
                                 stroke_width=3))  # fmt: skip
        else:
            parts.append(element("rect", x=float(x), y=float(y), width=30, height=22, fill=fill, stroke=AXIS_COLOUR,
                                 stroke_width=0.5))  # fmt: skip
        parts.append(text(x + 40, y + 18, label, font_size=FONT))
    rows = math.ceil(len(items) / columns) if items else 0
    return "".join(parts), rows * 34


def _national_layout():
    """[(codes, Fit, frame or None)] for mainland France, the five overseas boxes and the zoom on
    Paris and its inner ring; and the height of the map."""
    every = shapes()
    metro = [s for s in every.values() if s.zone == "metro"]
    bbox = _union(s.bbox for s in metro)
    column, gap = 150, 16
    main_w = WIDTH - column - gap
    height = main_w * (bbox[3] - bbox[1]) / (bbox[2] - bbox[0])
    layout = [([s.code for s in metro], Fit(bbox, (column + gap, 0, main_w, height)), None)]
    box_h = (height - 4 * 10) / len(DROM)
    for i, code in enumerate(DROM):
        box = (0, i * (box_h + 10), column, box_h)
        layout.append(
            ([code], Fit(every[code].bbox, (8, box[1] + 30, column - 16, box_h - 38)), (box, [every[code].name]))
        )
    zoom = (WIDTH - 170, 0, 170, 170)
    fit = Fit(_union(every[c].bbox for c in PETITE_COURONNE), (zoom[0] + 8, 50, 154, 112))
    layout.append((list(PETITE_COURONNE), fit, (zoom, ["Paris et", "petite couronne"])))
    return layout, height


def _subset_layout(codes):
    every = shapes()
    selected = [every[c] for c in codes]
    if len({s.zone for s in selected}) > 1:
        raise ValueError("Une carte partielle ne peut mêler la métropole et l'outre-mer.")
    bbox = _union(s.bbox for s in selected)
    ratio = (bbox[3] - bbox[1]) / max(bbox[2] - bbox[0], 1e-9)
    height = min(WIDTH * ratio, 800)
    return [([s.code for s in selected], Fit(bbox, (10, 10, WIDTH - 20, height - 20)), None)], height


def _frame(box, lines):
    x, y, width, height = box
    return element(
        "rect", x=float(x), y=float(y), width=float(width), height=float(height), fill="#ffffff", stroke=AXIS_COLOUR,
        stroke_width=1,
    ) + multiline_text(x + 8, y + 17 + (len(lines) - 1) * 9.6, lines, 16, fill=MUTED_COLOUR)  # fmt: skip


def departments_map(
    values: Mapping[str, object],
    *,
    title: str,
    unit: str = "",
    decimals: int = 0,
    description: str | None = None,
    classes: int = 5,
    method: str = "quantile",
    highlight: str | Iterable[str] | None = None,
    highlight_label: str = "département mis en évidence",
    departments: Iterable[str] | None = None,
    value_header: str = "Valeur",
    unknown: Mapping[str, tuple[str, str]] | None = None,
    unknown_legend: str = NOT_COMPUTABLE,
) -> MapFigure:
    """Choropleth of the départements (all 101, or only `departments`, e.g. those of a région).

    `values` maps département codes to numbers or None ("non calculable", hatched); a département
    missing from `values` is grey ("pas de donnée") and not in the table. `unknown` says, for some
    of the None, what they are instead: {code: (text of the value, its class)}, e.g. a statistical
    secret; `unknown_legend` is then the hatches' legend.
    """
    unknown = unknown or {}
    every = shapes()
    rounded = {code: round_decimal(value, decimals) for code, value in values.items()}
    value_classes = classify(rounded.values(), classes=classes, method=method, decimals=decimals, unit=unit)
    highlights = {highlight} if isinstance(highlight, str) else set(highlight or ())
    if departments is None:
        layout, height = _national_layout()
    else:
        layout, height = _subset_layout(sorted(set(departments), key=sort_key))
    fid = figure_id("departments", title, sorted(rounded.items()), unit, classes, method, sorted(highlights))

    def fill_of(code):
        if code not in rounded:
            return NO_DATA_FILL, "nd", "pas de donnée"
        number = rounded[code]
        if number is None:
            return f"url(#{fid}-nc)", "nc", unknown.get(code, (NOT_COMPUTABLE,))[0]
        index = class_index(value_classes, number)
        return value_classes[index].colour, str(index), format_number(number, decimals, unit)

    def border_of(klass):
        # White borders separate coloured shapes; white or hatched ones need a grey edge.
        return AXIS_COLOUR if klass in ("nd", "nc") else BORDER

    body = [_hatch(fid)]
    for codes, fit, frame in layout:
        group = []
        if frame:
            group.append(_frame(*frame))
        for code in codes:
            fill, klass, shown = fill_of(code)
            attributes = {"data_zoom": code} if frame and code in PETITE_COURONNE else {"data_code": code}
            group.append(
                element(
                    "path",
                    tooltip(f"{every[code].name} ({code}) : {shown}"),
                    d=fit.path(every[code]),
                    fill=fill,
                    stroke=border_of(klass),
                    stroke_width=0.8,
                    stroke_linejoin="round",
                    class_=f"dep c{klass}",
                    data_class=klass,
                    **attributes,
                )
            )
        for code in codes:
            if code in highlights:
                group.append(
                    element("path", d=fit.path(every[code]), fill="none", stroke=TEXT_COLOUR, stroke_width=3,
                            stroke_linejoin="round", class_="highlight", data_highlight=code)
                )  # fmt: skip
        body.append(element("g", "".join(group)))

    legend = [(c.colour, c.label) for c in value_classes]
    drawn = {code for codes, _, _ in layout for code in codes}
    if any(rounded.get(code, 0) is None for code in drawn):
        legend.append(("hatch", unknown_legend))
    if drawn - set(rounded):
        legend.append((NO_DATA_FILL, "pas de donnée"))
    if highlights & drawn:
        legend.append(("none", highlight_label))
    legend_markup, legend_h = _legend(legend, height + 24, fid)
    body.append(legend_markup)

    rows = []
    for code in sorted(rounded, key=sort_key):
        number = rounded[code]
        if code not in every:
            klass = "non représenté sur la carte"
        elif number is None:
            klass = unknown.get(code, (None, NOT_COMPUTABLE))[1]
        else:
            klass = value_classes[class_index(value_classes, number)].label
        name = f"{every[code].name} ({code})" if code in every else code
        shown = unknown[code][0] if number is None and code in unknown else format_number(number, decimals, unit)
        rows.append((name, shown, klass))

    title = str(title)
    if description is None:
        known = [(n, c) for c, n in rounded.items() if n is not None]
        missing = len(rounded) - len(known)
        description = f"Carte des départements : {title}. "
        if known:
            low, high = min(known), max(known)
            description += (
                f"{len(known)} départements avec une valeur, de {format_number(low[0], decimals, unit)} "
                f"({department_name(low[1])}) à {format_number(high[0], decimals, unit)} ({department_name(high[1])}). "
                f"Classes : {' ; '.join(c.label for c in value_classes)}. "
            )
        else:
            description += "Aucune valeur calculable. "
        if missing:
            description += f"{missing} non calculable{'s' if missing > 1 else ''}. "
        description += "Le tableau qui suit donne la valeur de chaque département."
    return MapFigure(
        title=title,
        description=description,
        svg=svg_document(fid, WIDTH, height + 24 + legend_h + 4, title, description, "".join(body)),
        table=Table(title, ("Département", value_header, "Classe"), tuple(rows)),
        legend=tuple(
            ("hachures" if fill == "hatch" else "contour" if fill == "none" else fill, label) for fill, label in legend
        ),
        note=(
            "Départements d'outre-mer et petite couronne parisienne dans des encadrés, à leur propre échelle. "
            if departments is None
            else ""
        )
        + BASEMAP_CREDIT,
        classes=tuple(value_classes),
    )


class DepartmentFrame:
    """One département zoomed to a `width`-unit-wide SVG: its outline, its neighbours for context,
    and `project()` to place anything with a latitude and longitude on it (a background for
    commune, structure or QPV maps)."""

    def __init__(self, code, *, width=WIDTH, max_height=800, padding=24):
        every = shapes()
        if code not in every:
            raise ValueError(f"Pas de contour pour le département {code}.")
        self.shape = every[code]
        self.code, self.name, self.width = code, self.shape.name, width
        min_x, min_y, max_x, max_y = self.shape.bbox
        inner = width - 2 * padding
        self.height = min(inner * (max_y - min_y) / max(max_x - min_x, 1e-9), max_height - 2 * padding) + 2 * padding
        self.fit = Fit(self.shape.bbox, (padding, padding, inner, self.height - 2 * padding))
        # The km window the SVG shows, to pick the neighbours worth drawing.
        left, top = (-self.fit.offset_x / self.fit.scale, self.fit.offset_y / self.fit.scale)
        self.window = (left, top - self.height / self.fit.scale, left + width / self.fit.scale, top)

    def project(self, latitude, longitude):
        return self.fit(*project(self.shape.zone, latitude, longitude))

    def neighbours(self):
        a = self.window
        return [
            s
            for s in shapes().values()
            if s.zone == self.shape.zone
            and s.code != self.code
            and s.bbox[0] < a[2]
            and s.bbox[2] > a[0]
            and s.bbox[1] < a[3]
            and s.bbox[3] > a[1]
        ]

    def background(self, *, fill=LAND, stroke=BLUE_FRANCE, neighbours=True):
        """Markup of the neighbours (plain grey) and the outlined département."""
        parts = [
            element("path", d=self.fit.path(s), fill="#e5e5e5", stroke="#ffffff", stroke_width=1.5, class_="neighbour")
            for s in (self.neighbours() if neighbours else ())
        ]
        parts.append(
            element("path", tooltip(f"{self.name} ({self.code})"), d=self.fit.path(self.shape), fill=fill,
                    stroke=stroke, stroke_width=2.5, stroke_linejoin="round", class_="outline", data_code=self.code)
        )  # fmt: skip
        return "".join(parts)

    def svg(self, body="", *, title=None, description=None, extra_height=0, after=""):
        """A whole SVG: the background, then `body` (markup drawn with `project()` coordinates),
        clipped to the frame; `after` is drawn unclipped in the `extra_height` below it."""
        title = title or f"{self.name} ({self.code})"
        description = description or f"Contour du département {self.name} ({self.code})."
        fid = figure_id("frame", self.code, title, body)
        clip = element(
            "defs",
            element("clipPath", element("rect", width=self.width, height=float(self.height)), id=f"{fid}-clip"),
        )
        content = clip + element("g", self.background() + body, clip_path=f"url(#{fid}-clip)") + after
        return svg_document(fid, self.width, self.height + extra_height, title, description, content)


def department_outline(code, **kwargs):
    """The SVG of one département alone (see DepartmentFrame for drawing over it)."""
    return DepartmentFrame(code).svg(**kwargs)


def department_communes_map(
    department_code: str,
    points: Sequence[tuple],
    *,
    title: str,
    unit: str = "",
    decimals: int = 0,
    description: str | None = None,
    proportional: bool = True,
    classes: int = 5,
    method: str = "quantile",
    value_header: str = "Valeur",
) -> MapFigure:
    """Values of communes of one département, as circles on their centroids over its outline.

    `points` are (commune code, name, latitude, longitude, value), e.g. from
    Commune.objects.values_list("code", "name", "latitude", "longitude", …). Proportional circles
    (area ∝ |value|, for counts and amounts, negatives in orange) or, with proportional=False,
    equal circles coloured by class (for rates). None is an empty grey circle ("non calculable").
    """
    frame = DepartmentFrame(department_code)
    rows_in = [(str(c), str(n), lat, lon, round_decimal(v, decimals)) for c, n, lat, lon, v in points]
    known = [r[4] for r in rows_in if r[4] is not None]
    title = str(title)
    fid = figure_id("communes", department_code, title, rows_in, unit, proportional)
    value_classes = [] if proportional else classify(known, classes=classes, method=method, decimals=decimals,
                                                     unit=unit)  # fmt: skip
    largest = max((abs(n) for n in known), default=Decimal(0))
    max_radius = 30.0

    def radius(number):
        if not proportional:
            return 8.0
        if not largest or not number:
            return 2.0
        return max(2.0, max_radius * math.sqrt(float(abs(number) / largest)))

    marks, unplaced = [], 0
    for code, name, latitude, longitude, number in rows_in:
        if latitude is None or longitude is None:
            unplaced += 1
            continue
        x, y = frame.project(float(latitude), float(longitude))
        shown = format_number(number, decimals, unit)
        label = tooltip(f"{name} ({code}) : {shown}")
        if number is None:
            marks.append((0, element("circle", label, cx=x, cy=y, r=5.0, fill="#ffffff", stroke=MUTED_COLOUR,
                                     stroke_width=1.5, class_="commune cnc", data_code=code)))  # fmt: skip
            continue
        if proportional:
            colour = NEGATIVE_COLOUR if number < 0 else BLUE_FRANCE
            klass = "neg" if number < 0 else "pos"
            opacity, edge = 0.75, "#ffffff"
        else:
            index = class_index(value_classes, number)
            # The lightest class would vanish on the land colour without a dark edge.
            colour, klass, opacity, edge = value_classes[index].colour, str(index), 1, TEXT_COLOUR
        marks.append(
            (
                radius(number),
                element("circle", label, cx=x, cy=y, r=radius(number), fill=colour, fill_opacity=opacity,
                        stroke=edge, stroke_width=1, class_=f"commune c{klass}", data_code=code),
            )
        )  # fmt: skip
    # Largest first, so that small circles stay visible on top.
    body = "".join(markup for _, markup in sorted(marks, key=lambda m: -m[0]))

    legend, key, key_h, key_items = [], "", 0, []
    if proportional and largest:
        sizes = [largest, round_decimal(largest / 4, decimals)]
        key_items = [(radius(n), format_number(n, decimals, unit)) for n in sizes if n]
        key, key_h = _size_key(frame.height + 16, key_items)
        if any(n < 0 for n in known):
            legend.append((("circle", 8, NEGATIVE_COLOUR, "#ffffff"), "valeur négative"))
    legend += [(c.colour, c.label) for c in value_classes]
    if len(known) < len(rows_in):
        legend.append((("circle", 5, "#ffffff", MUTED_COLOUR), NOT_COMPUTABLE))
    legend_markup, legend_h = _legend(legend, frame.height + 16 + key_h, fid)

    if description is None:
        description = f"Carte des communes du département {frame.name} ({department_code}) : {title}. "
        if known:
            low = min((r for r in rows_in if r[4] is not None), key=lambda r: r[4])
            high = max((r for r in rows_in if r[4] is not None), key=lambda r: r[4])
            description += (
                f"{len(known)} communes avec une valeur, de {format_number(low[4], decimals, unit)} ({low[1]}) à "
                f"{format_number(high[4], decimals, unit)} ({high[1]}). "
            )
        description += "Le tableau qui suit donne la valeur de chaque commune."
    svg = frame.svg(
        body, title=title, description=description, extra_height=16 + key_h + legend_h + 4, after=key + legend_markup
    )
    rows = tuple(
        (f"{name} ({code})", format_number(number, decimals, unit))
        for code, name, _, _, number in sorted(rows_in, key=lambda r: (_collation(r[1]), r[0]))
    )
    plural = "s" if unplaced > 1 else ""
    note = f"{unplaced} commune{plural} sans coordonnées, absente{plural} de la carte. " if unplaced else ""
    note += BASEMAP_CREDIT
    return MapFigure(
        title=title,
        description=description,
        svg=svg,
        table=Table(title, ("Commune", value_header), rows),
        legend=tuple(
            [(BLUE_FRANCE, f"cercle de surface proportionnelle à la valeur ({label})") for _, label in key_items]
            + [(fill[2] if isinstance(fill, tuple) else fill, label) for fill, label in legend]
        ),
        note=note,
        classes=tuple(value_classes),
    )


def _size_key(top, items):
    """Nested circles standing on one line, each with its value: the scale of proportional circles."""
    largest = items[0][0]
    base = top + 2 * largest + 4
    parts = [text(0, top + 12, "Valeur (surface des cercles) :", font_size=FONT, fill=MUTED_COLOUR)]
    cx = text_width("Valeur (surface des cercles) :", FONT) + 16 + largest
    for r, label in items:
        parts.append(element("circle", cx=cx, cy=base - r, r=r, fill="none", stroke=TEXT_COLOUR, stroke_width=1))
        parts.append(element("line", x1=cx, x2=cx + largest + 12, y1=base - 2 * r, y2=base - 2 * r, stroke=TEXT_COLOUR,
                             stroke_width=0.75))  # fmt: skip
        parts.append(text(cx + largest + 16, base - 2 * r + 6, label, font_size=FONT))
    return "".join(parts), 2 * largest + 14


def _collation(name):
    import unicodedata

    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
