"""Server-rendered SVG charts, each with the table of its data.

One SVG serves the web page, the WeasyPrint PDF and screen readers (role="img" with a <title> and
a <desc>, then the table that `core/_figure.html` prints after it). So: no script, no CSS
variable, no foreignObject, no web font beyond the State font the page already loads, and every
colour written as a presentation attribute. Text widths are estimated (the server has no font
metrics): labels get generous room and the table always carries the full text.
"""

import hashlib
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.safestring import SafeString, mark_safe

FONT_FAMILY = "Marianne, Arial, sans-serif"
BLUE_FRANCE = "#000091"
TEXT_COLOUR = "#161616"
MUTED_COLOUR = "#666666"
GRID_COLOUR = "#dddddd"
AXIS_COLOUR = "#929292"
# DSFR warning orange: against blue france it stays distinct for every colour-vision deficiency.
NEGATIVE_COLOUR = "#b34000"
# DSFR illustrative colours ordered so that neighbours differ in lightness as well as hue.
SERIES_COLOURS = (
    BLUE_FRANCE,
    "#e4794a",  # orange terre battue
    "#009099",  # vert archipel
    "#a558a0",  # violet glycine
    "#c8aa39",  # jaune tournesol
    "#8585f6",  # bleu France 625
    "#6e445a",  # rose opéra 425
    "#666666",  # gris
)

NOT_COMPUTABLE = "non calculable"
NO_DATA = "pas de donnée"
THOUSANDS_SEPARATOR = "\u202f"  # espace fine insécable
UNIT_SPACE = "\u00a0"  # espace insécable

WIDTH = 640
CHAR_WIDTH = 0.58  # average glyph width of Marianne / Arial, in em


@dataclass(frozen=True)
class Table:
    """The data of a figure, every cell already written in French."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    title: str
    description: str
    svg: SafeString
    table: Table
    legend: tuple[tuple[str, str], ...] = ()  # (colour, label), as drawn in the SVG
    note: str = ""

    def __html__(self):
        return self.svg


# --- Numbers ------------------------------------------------------------------------------------


def to_decimal(value):
    """Decimal of an int, float, Decimal or numeric string; None for None, NaN and infinities."""
    if value is None or isinstance(value, bool):
        return None
    try:
        # repr() gives the shortest float text, so 0.1 stays 0.1 and not 0.1000000000000000055…
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return number if number.is_finite() else None


def round_decimal(value, decimals=0):
    number = to_decimal(value)
    if number is None:
        return None
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded == 0 else rounded  # never "-0"


def format_number(value, decimals=0, unit=""):
    """French writing with a fixed number of decimals: "12,5 %", "1 234 567 €", "-3 structures".

    Thousands are split by a narrow no-break space from four digits on: charts and tables are
    columns of figures, where French typography groups "8 300" like "12 450" (a lone year is not
    written with this function). The unit follows a no-break space. None (or NaN) is "non calculable".
    """
    number = round_decimal(value, decimals)
    if number is None:
        return NOT_COMPUTABLE
    whole, _, fraction = f"{abs(number):f}".partition(".")
    if len(whole) > 3:
        whole = f"{int(whole):,}".replace(",", THOUSANDS_SEPARATOR)
    text = ("-" if number < 0 else "") + whole + ("," + fraction if fraction else "")
    return f"{text}{UNIT_SPACE}{unit}" if unit else text


# --- SVG helpers --------------------------------------------------------------------------------


def _n(number):
    """A coordinate, short: one decimal at most."""
    text = f"{number:.1f}"
    return text[:-2] if text.endswith(".0") else text


def escape(value):
    """Text or an attribute value made safe in markup: the standard library's escape, which gives the same
    entities as Django's without its lazy-string machinery (a chart escapes thousands of values)."""
    return html.escape(str(value))


def _attrs(attributes):
    parts = []
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, float):
            value = _n(value)  # digits, a dot and a sign: nothing to escape
        elif not isinstance(value, int):
            value = escape(value)
        parts.append(f' {key.rstrip("_").replace("_", "-")}="{value}"')
    return "".join(parts)


def element(tag, content="", **attributes):
    """An SVG element; `content` is markup (escape text with `escape` or use `text`)."""
    if content:
        return f"<{tag}{_attrs(attributes)}>{content}</{tag}>"
    return f"<{tag}{_attrs(attributes)}/>"


def text(x, y, content, **attributes):
    return element("text", escape(content), x=float(x), y=float(y), **attributes)


def tooltip(content):
    return f"<title>{escape(content)}</title>"


def text_width(content, size):
    return len(content) * size * CHAR_WIDTH


def wrap(label, max_width, size, max_lines=2):
    """Lines of at most max_width, words kept whole; an ellipsis past max_lines."""
    limit = max(4, int(max_width / (size * CHAR_WIDTH)))
    lines, current = [], ""
    for word in str(label).split():
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= limit or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    lines.append(current)
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [" ".join(lines[max_lines - 1 :])]
    return [line if len(line) <= limit else line[: limit - 1].rstrip() + "…" for line in lines]


def multiline_text(x, y, lines, size, **attributes):
    """Lines centred vertically on y (baseline offsets computed here: WeasyPrint ignores most of
    dominant-baseline)."""
    line_height = size * 1.2
    first = y + size * 0.35 - (len(lines) - 1) * line_height / 2
    spans = "".join(
        element("tspan", escape(line), x=float(x), y=float(first + i * line_height)) for i, line in enumerate(lines)
    )
    return element("text", spans, font_size=size, **attributes)


def figure_id(*parts):
    """Stable ids (same data, same markup) that differ between the figures of one page."""
    return "fig-" + hashlib.sha1(repr(parts).encode()).hexdigest()[:10]


def svg_document(fid, width, height, title, description, body):
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(width)} {_n(height)}" width="100%" '
        f'role="img" aria-labelledby="{fid}-title {fid}-desc" font-family="{FONT_FAMILY}" font-size="13" '
        f'fill="{TEXT_COLOUR}"><title id="{fid}-title">{escape(title)}</title>'
        f'<desc id="{fid}-desc">{escape(description)}</desc>{body}</svg>'
    )


def text_colour_on(background):
    """Near-black or white, whichever reads better on `background` (#rrggbb)."""
    channels = [int(background[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#ffffff" if (1.05 / (luminance + 0.05)) >= 4.5 else TEXT_COLOUR


def nice_ticks(low, high, count=5):
    """Round axis ticks (1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    low, high = float(low), float(high)
    if low == high:
        low, high = (low - 1, high + 1) if low else (0.0, 1.0)
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step + 1e-9) * step
    end = math.ceil(high / step - 1e-9) * step
    ticks = [start + i * step for i in range(round((end - start) / step) + 1)]
    return [0.0 if abs(t) < step * 1e-9 else t for t in ticks], step


def tick_decimals(step):
    return max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else (1 if step % 1 else 0)


def legend_items(items, x, y, max_width, size=12):
    """Swatches and names flowing over lines (colour None: a note without swatch); returns
    (markup, height)."""
    parts, cx, cy = [], x, y
    for colour, label in items:
        swatch = 17 if colour else 0
        width = swatch + text_width(label, size) + 16
        if cx > x and cx + width > x + max_width:
            cx, cy = x, cy + size * 1.7
        if colour:
            parts.append(element("rect", x=float(cx), y=float(cy), width=12, height=12, fill=colour))
        parts.append(text(cx + swatch, cy + 10.5, label, font_size=size, font_style=None if colour else "italic"))
        cx += width
    return "".join(parts), cy - y + size * 1.7


def _as_numbers(values):
    return [to_decimal(v) for v in values]


def _extremes(labels, numbers, decimals, unit):
    known = [(n, label) for label, n in zip(labels, numbers, strict=True) if n is not None]
    if not known:
        return "Aucune valeur n'est calculable."
    low, high = min(known, key=lambda p: p[0]), max(known, key=lambda p: p[0])
    missing = len(numbers) - len(known)
    sentence = (
        f"Valeurs de {format_number(low[0], decimals, unit)} ({low[1]}) à {format_number(high[0], decimals, unit)} "
        f"({high[1]})."
    )
    if missing:
        sentence += f" {missing} non calculable{'s' if missing > 1 else ''}."
    return sentence


def _value_axis(numbers, extra=(), *, unit="", width=400):
    """Ticks of a value axis `width` units long, as many as their labels leave room for."""
    known = [float(n) for n in numbers if n is not None] + [float(e) for e in extra if e is not None]
    low, high = min([0.0, *known]), max([0.0, *known])
    for count in (5, 4, 3, 2):
        ticks, step = nice_ticks(low, high, count)
        widest = max(text_width(format_number(t, tick_decimals(step), unit), 11) for t in ticks)
        if width / (len(ticks) - 1) >= widest + 12:
            break
    return ticks, step


def _scale(domain_low, domain_high, x0, x1):
    return lambda v: x0 + (float(v) - domain_low) / (domain_high - domain_low) * (x1 - x0)


def _grid(ticks, step, scale, top, bottom, unit):
    parts = []
    for t in ticks:
        x = scale(t)
        colour = AXIS_COLOUR if t == 0 else GRID_COLOUR
        parts.append(element("line", x1=x, x2=x, y1=float(top), y2=float(bottom), stroke=colour))
        parts.append(
            text(x, bottom + 15, format_number(t, tick_decimals(step), unit), text_anchor="middle", font_size=11)
        )
    return "".join(parts)


def _label_column(labels, size, max_width):
    widths = [text_width(line, size) for label in labels for line in wrap(label, max_width, size)]
    return min(max(widths, default=0), max_width)


# --- Charts -------------------------------------------------------------------------------------


def bar_chart(
    labels: Sequence[str],
    values: Sequence,
    *,
    title: str,
    unit: str = "",
    decimals: int = 0,
    description: str | None = None,
    label_header: str = "Libellé",
    value_header: str = "Valeur",
    reference=None,
    reference_label: str = "France",
    colour: str = BLUE_FRANCE,
) -> Figure:
    """Horizontal bars, one per label, with an optional dashed reference line (the national value)."""
    labels = [str(label) for label in labels]
    numbers = _as_numbers(values)
    reference = to_decimal(reference)
    formatted = [format_number(n, decimals, unit) for n in numbers]
    size = 13
    label_w = _label_column(labels, size, WIDTH * 0.34)
    wrapped = [wrap(label, label_w, size) for label in labels]
    row_h = 34 if any(len(lines) > 1 for lines in wrapped) else 26
    value_w = max([text_width(f, 12) for f, n in zip(formatted, numbers, strict=True) if n is not None], default=0)
    value_w = max(value_w, text_width(NOT_COMPUTABLE, 12)) + 8
    has_negative = any(n is not None and n < 0 for n in numbers)
    x0 = label_w + 12 + (value_w if has_negative else 0)
    ticks, step = _value_axis(numbers, [reference], unit=unit, width=WIDTH - value_w - x0)
    scale = _scale(ticks[0], ticks[-1], x0, WIDTH - value_w)
    top = 26 if reference is not None else 6
    bottom = top + row_h * len(labels)
    zero = scale(0)

    body = [_grid(ticks, step, scale, top, bottom, unit)]
    for i, (lines, number, shown) in enumerate(zip(wrapped, numbers, formatted, strict=True)):
        middle = top + row_h * i + row_h / 2
        body.append(multiline_text(label_w + 4, middle, lines, size, text_anchor="end"))
        if number is None:
            body.append(
                text(zero + 4, middle + 4, NOT_COMPUTABLE, font_size=12, font_style="italic", fill=MUTED_COLOUR)
            )
            continue
        end = scale(number)
        fill = NEGATIVE_COLOUR if number < 0 else colour
        body.append(
            element(
                "rect",
                tooltip(f"{labels[i]} : {shown}"),
                x=min(zero, end),
                y=middle - 8.0,
                width=abs(end - zero),
                height=16,
                fill=fill,
                class_="bar",
                data_index=str(i),
            )
        )
        if number < 0:
            body.append(text(end - 4, middle + 4, shown, font_size=12, text_anchor="end"))
        else:
            body.append(text(end + 4, middle + 4, shown, font_size=12))
    if reference is not None:
        body.append(
            _reference_line(
                scale(reference), top, bottom, f"{reference_label} : {format_number(reference, decimals, unit)}"
            )
        )

    title = str(title)
    if description is None:
        description = f"Diagramme en barres horizontales : {title}. {_extremes(labels, numbers, decimals, unit)}"
        if reference is not None:
            description += f" Référence {reference_label} : {format_number(reference, decimals, unit)}."
    rows = [(label, shown) for label, shown in zip(labels, formatted, strict=True)]
    if reference is not None:
        rows.append((f"{reference_label} (référence)", format_number(reference, decimals, unit)))
    fid = figure_id("bar", title, labels, numbers, reference, unit, decimals)
    return Figure(
        title=title,
        description=description,
        svg=svg_document(fid, WIDTH, bottom + 24, title, description, "".join(body)),
        table=Table(title, (label_header, value_header), tuple(rows)),
    )


def _reference_line(x, top, bottom, label):
    width = text_width(label, 12)
    anchor = "middle"
    if x + width / 2 > WIDTH:
        anchor = "end"
    elif x - width / 2 < 0:
        anchor = "start"
    return element(
        "line",
        x1=x,
        x2=x,
        y1=float(top - 6),
        y2=float(bottom),
        stroke=TEXT_COLOUR,
        stroke_width=1.5,
        stroke_dasharray="5 3",
        class_="reference",
    ) + text(x, top - 10, label, font_size=12, font_weight="bold", text_anchor=anchor)


def comparison_bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence],
    *,
    title: str,
    unit: str = "",
    decimals: int = 0,
    description: str | None = None,
    label_header: str = "Libellé",
    colours: Sequence[str] = SERIES_COLOURS,
) -> Figure:
    """Horizontal bars grouped by label, one bar per series (structure, département, région, France)."""
    labels = [str(label) for label in labels]
    names = [str(name) for name in series]
    columns = [_as_numbers(values) for values in series.values()]
    if any(len(column) != len(labels) for column in columns):
        raise ValueError("Chaque série doit avoir une valeur par libellé.")
    colours = [colours[i % len(colours)] for i in range(len(names))]
    size, bar_h, gap = 13, 12, 2
    label_w = _label_column(labels, size, WIDTH * 0.3)
    formatted = [[format_number(n, decimals, unit) for n in column] for column in columns]
    value_w = max([text_width(f, 11) for column in formatted for f in column] + [text_width("n.c.", 11)], default=0) + 8
    every = [n for column in columns for n in column]
    has_negative = any(n is not None and n < 0 for n in every)
    x0 = label_w + 12 + (value_w if has_negative else 0)
    ticks, step = _value_axis(every, unit=unit, width=WIDTH - value_w - x0)
    scale = _scale(ticks[0], ticks[-1], x0, WIDTH - value_w)
    legend_entries = list(zip(colours, names, strict=True))
    if any(n is None for n in every):
        legend_entries.append((None, "n.c. : non calculable"))
    legend, legend_h = legend_items(legend_entries, x0, 4, WIDTH - x0)
    group_h = len(names) * bar_h + (len(names) - 1) * gap + 14
    top = 4 + legend_h + 4
    bottom = top + group_h * len(labels)
    zero = scale(0)

    body = [legend, _grid(ticks, step, scale, top, bottom, unit)]
    for i, label in enumerate(labels):
        group_top = top + group_h * i + 7
        lines = wrap(label, label_w, size, max_lines=3)
        body.append(multiline_text(label_w + 4, group_top + (group_h - 14) / 2, lines, size, text_anchor="end"))
        for s, (column, shown) in enumerate(zip(columns, formatted, strict=True)):
            y = group_top + s * (bar_h + gap)
            number = column[i]
            if number is None:
                body.append(
                    text(
                        zero + 3,
                        y + 10,
                        "n.c.",
                        font_size=11,
                        font_style="italic",
                        fill=MUTED_COLOUR,
                        data_series=str(s),
                    )
                )
                continue
            end = scale(number)
            body.append(
                element(
                    "rect",
                    tooltip(f"{label}, {names[s]} : {shown[i]}"),
                    x=min(zero, end),
                    y=float(y),
                    width=abs(end - zero),
                    height=bar_h,
                    fill=colours[s],
                    class_="bar",
                    data_index=str(i),
                    data_series=str(s),
                )
            )
            if number < 0:
                body.append(text(end - 3, y + 10, shown[i], font_size=11, text_anchor="end"))
            else:
                body.append(text(end + 3, y + 10, shown[i], font_size=11))

    title = str(title)
    if description is None:
        description = (
            f"Diagramme en barres groupées : {title}. Pour chaque {label_header.lower()}, une barre par série : "
            f"{', '.join(names)}. Le tableau qui suit donne toutes les valeurs."
        )
    rows = tuple((label, *(shown[i] for shown in formatted)) for i, label in enumerate(labels))
    fid = figure_id("comparison", title, labels, names, columns, unit, decimals)
    return Figure(
        title=title,
        description=description,
        svg=svg_document(fid, WIDTH, bottom + 24, title, description, "".join(body)),
        table=Table(title, (label_header, *names), rows),
        legend=tuple(zip(colours, names, strict=True)),
    )


def stacked_bars(
    labels: Sequence[str],
    parts: Mapping[str, Sequence],
    *,
    title: str,
    unit: str = "",
    decimals: int = 0,
    share_decimals: int = 1,
    description: str | None = None,
    label_header: str = "Libellé",
    colours: Sequence[str] = SERIES_COLOURS,
) -> Figure:
    """100 % stacked bars: for each label, the share of each part in the label's total.

    A None part is unknown: left out of the total, drawn as nothing, "non calculable" in the
    table. A row with a negative part or no positive total is not calculable as a whole (shares
    of such a total mean nothing).
    """
    labels = [str(label) for label in labels]
    names = [str(name) for name in parts]
    columns = [_as_numbers(values) for values in parts.values()]
    if any(len(column) != len(labels) for column in columns):
        raise ValueError("Chaque part doit avoir une valeur par libellé.")
    colours = [colours[i % len(colours)] for i in range(len(names))]
    size = 13
    show_labels = any(labels)
    label_w = _label_column(labels, size, WIDTH * 0.3) if show_labels else 0
    x0, x1 = label_w + (12 if show_labels else 16), WIDTH - 20
    legend, legend_h = legend_items(list(zip(colours, names, strict=True)), x0, 4, x1 - x0)
    row_h, bar_h = 38, 24
    top = 4 + legend_h + 6
    bottom = top + row_h * len(labels)
    scale = _scale(0, 100, x0, x1)

    body = [legend]
    for t in (0, 25, 50, 75, 100):
        x = scale(t)
        body.append(element("line", x1=x, x2=x, y1=float(top), y2=float(bottom), stroke=GRID_COLOUR))
        body.append(text(x, bottom + 15, format_number(t, 0, "%"), text_anchor="middle", font_size=11))
    rows = []
    for i, label in enumerate(labels):
        amounts = [column[i] for column in columns]
        known = [a for a in amounts if a is not None]
        total = sum(known, Decimal(0))
        middle = top + row_h * i + row_h / 2
        if show_labels:
            body.append(multiline_text(label_w + 4, middle, wrap(label, label_w, size), size, text_anchor="end"))
        if not known or total <= 0 or any(a < 0 for a in known):
            body.append(text(x0 + 4, middle + 4, NOT_COMPUTABLE, font_size=12, font_style="italic", fill=MUTED_COLOUR))
            rows.append((label, *[NOT_COMPUTABLE] * len(names), *([] if unit == "%" else [NOT_COMPUTABLE])))
            continue
        start, cells = Decimal(0), []
        for s, amount in enumerate(amounts):
            if amount is None:
                cells.append(NOT_COMPUTABLE)
                continue
            share = amount * 100 / total
            shown_share = format_number(share, share_decimals, "%")
            cells.append(shown_share if unit == "%" else f"{format_number(amount, decimals, unit)} ({shown_share})")
            left, right = scale(start), scale(start + share)
            start += share
            if right - left <= 0:
                continue
            body.append(
                element(
                    "rect",
                    tooltip(f"{label}, {names[s]} : {cells[-1]}"),
                    x=left,
                    y=middle - bar_h / 2,
                    width=right - left,
                    height=bar_h,
                    fill=colours[s],
                    stroke="#ffffff",
                    stroke_width=1,
                    class_="part",
                    data_index=str(i),
                    data_series=str(s),
                )
            )
            inside = format_number(share, 0, "%")
            if right - left >= text_width(inside, 11) + 6:
                body.append(
                    text(
                        (left + right) / 2,
                        middle + 4,
                        inside,
                        font_size=11,
                        text_anchor="middle",
                        fill=text_colour_on(colours[s]),
                    )
                )
        rows.append((label, *cells, *([] if unit == "%" else [format_number(total, decimals, unit)])))

    title = str(title)
    if description is None:
        description = (
            f"Barres empilées à 100 % : {title}. Parts de {', '.join(names)} dans le total de chaque "
            f"{label_header.lower()}. Le tableau qui suit donne les montants et les parts."
        )
    headers = (label_header, *names, *([] if unit == "%" else ["Total"]))
    fid = figure_id("stacked", title, labels, names, columns, unit, decimals)
    return Figure(
        title=title,
        description=description,
        svg=svg_document(fid, WIDTH, bottom + 24, title, description, "".join(body)),
        table=Table(title, headers, tuple(rows)),
        legend=tuple(zip(colours, names, strict=True)),
    )


MARKERS = ("circle", "square", "triangle", "diamond")


def _marker(kind, x, y, colour, content):
    if kind == "circle":
        return element("circle", content, cx=x, cy=y, r=4, fill=colour, class_="point")
    if kind == "square":
        return element("rect", content, x=x - 3.5, y=y - 3.5, width=7, height=7, fill=colour, class_="point")
    points = (
        [(x, y - 5), (x + 5, y + 4), (x - 5, y + 4)]
        if kind == "triangle"
        else [(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)]
    )
    return element(
        "polygon", content, points=" ".join(f"{_n(a)},{_n(b)}" for a, b in points), fill=colour, class_="point"
    )


def line_chart(
    years: Sequence[int],
    values: Sequence | Mapping[str, Sequence],
    *,
    title: str,
    unit: str = "",
    decimals: int = 0,
    description: str | None = None,
    series_label: str = "Valeur",
    colours: Sequence[str] = SERIES_COLOURS,
    from_zero: bool = True,
) -> Figure:
    """Values by campaign year; the line breaks where a year is missing or its value is None.

    `values` is one list (one series, each point labelled) or a mapping of series name to list.
    """
    series = dict(values) if isinstance(values, Mapping) else {series_label: values}
    names = [str(name) for name in series]
    years = [int(y) for y in years]
    by_year = []
    for column in series.values():
        if len(column) != len(years):
            raise ValueError("Chaque série doit avoir une valeur par année.")
        by_year.append(dict(zip(years, _as_numbers(column), strict=True)))
    span = list(range(min(years), max(years) + 1)) if years else []
    colours = [colours[i % len(colours)] for i in range(len(names))]
    every = [n for column in by_year for n in column.values() if n is not None]
    low = min(every, default=0)
    if not from_zero and every:
        ticks, step = nice_ticks(min(every), max(every), 4)
    else:
        ticks, step = nice_ticks(min(0, low), max([0, *every]), 4)
    tick_texts = [format_number(t, tick_decimals(step), unit) for t in ticks]
    x0 = max(text_width(t, 11) for t in tick_texts) + 10
    x1 = WIDTH - 10
    legend, legend_h = (
        ("", 0) if len(names) == 1 else legend_items(list(zip(colours, names, strict=True)), x0, 4, x1 - x0)
    )
    top, height = legend_h + 18, 200
    bottom = top + height
    y_of = _scale(ticks[0], ticks[-1], bottom, top)
    band = (x1 - x0) / max(len(span), 1)

    def x_of(year):
        return x0 + band * (year - span[0] + 0.5)

    body = [legend]
    for t, shown in zip(ticks, tick_texts, strict=True):
        y = y_of(t)
        body.append(
            element("line", x1=float(x0), x2=float(x1), y1=y, y2=y, stroke=AXIS_COLOUR if t == 0 else GRID_COLOUR)
        )
        body.append(text(x0 - 6, y + 4, shown, font_size=11, text_anchor="end"))
    label_every = 1 if len(span) <= 12 else 2
    for k, year in enumerate(span):
        if k % label_every == 0:
            body.append(text(x_of(year), bottom + 16, str(year), font_size=11, text_anchor="middle"))
    for s, column in enumerate(by_year):
        runs, run = [], []
        for year in span:
            if column.get(year) is None:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(year)
        if run:
            runs.append(run)
        for run in runs:
            if len(run) > 1:
                d = "M" + " L".join(f"{_n(x_of(y))},{_n(y_of(column[y]))}" for y in run)
                body.append(
                    element(
                        "path",
                        d=d,
                        fill="none",
                        stroke=colours[s],
                        stroke_width=2.5,
                        stroke_linejoin="round",
                        class_="line",
                        data_series=str(s),
                    )
                )
        for year in span:
            number = column.get(year)
            if number is None:
                continue
            shown = format_number(number, decimals, unit)
            x, y = x_of(year), y_of(number)
            body.append(_marker(MARKERS[s % len(MARKERS)], x, y, colours[s], tooltip(f"{names[s]}, {year} : {shown}")))
            if len(names) == 1:
                above = y - 9 if y - 9 > top - 4 else y + 17
                body.append(text(x, above, shown, font_size=11, text_anchor="middle"))

    title = str(title)
    if description is None:
        parts = []
        for name, column in zip(names, by_year, strict=True):
            known = [(y, column[y]) for y in span if column.get(y) is not None]
            if known:
                parts.append(
                    f"{name} : {format_number(known[0][1], decimals, unit)} en {known[0][0]}, "
                    f"{format_number(known[-1][1], decimals, unit)} en {known[-1][0]}"
                )
            else:
                parts.append(f"{name} : aucune valeur calculable")
        period = f"de {span[0]} à {span[-1]}" if span else "sans année"
        description = f"Courbe {period} : {title}. " + " ; ".join(parts) + "."
    rows = tuple(
        (
            str(year),
            *((format_number(column[year], decimals, unit) if year in column else NO_DATA) for column in by_year),
        )
        for year in span
    )
    fid = figure_id("line", title, years, names, by_year, unit, decimals)
    return Figure(
        title=title,
        description=description,
        svg=svg_document(fid, WIDTH, bottom + 26, title, description, "".join(body)),
        table=Table(title, ("Année", *names), rows),
        legend=tuple(zip(colours, names, strict=True)) if len(names) > 1 else (),
    )
