"""Form fields for official geography: communes typed by name, postal code or INSEE code."""

import re

from django import forms
from django.db.models import prefetch_related_objects
from django.urls import reverse_lazy
from django.utils.html import format_html

from cadre.core.forms import FastInput, FastSelect
from cadre.territories.models import Commune, Department, PriorityArea, Region, priority_areas_around

LABEL_CODE = re.compile(r"\(([0-9][0-9AB][0-9]{3})\)\s*$", re.IGNORECASE)
PRIORITY_AREA_CODE = re.compile(r"QN[0-9A-Z]{3}[0-9]{2}[A-Z]", re.IGNORECASE)


class CommuneInput(FastInput):
    """A text input whose suggestions (a native datalist) come from the server as one types."""

    def __init__(self, attrs=None):
        base = {
            "autocomplete": "off",
            "hx-get": reverse_lazy("territories:commune_suggestions"),
            "hx-trigger": "input changed delay:250ms",
            "hx-swap": "innerHTML",
            "hx-sync": "this:replace",
            # Inside a filter form that pushes its URL, the suggestions must not inherit it: typing
            # a commune would otherwise replace the page address with the fragment's.
            "hx-push-url": "false",
            "placeholder": "Nom, code postal ou code INSEE",
        }
        super().__init__({**base, **(attrs or {})})

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs)
        list_id = f"{attrs.get('id', 'commune')}-suggestions"
        attrs.update({"list": list_id, "hx-target": f"#{list_id}"})
        return attrs

    def render_after(self, attrs):
        return format_html('<datalist id="{}"></datalist>', attrs["list"])


class CommuneField(forms.Field):
    widget = CommuneInput
    default_error_messages = {
        "required": "Indiquez la commune.",
        "unknown": (
            "Commune inconnue : « %(value)s ». Tapez le nom, le code postal ou le code INSEE "
            "puis choisissez dans la liste."
        ),
        "ambiguous": "« %(value)s » désigne plusieurs communes (%(choices)s) : choisissez-en une dans la liste.",
    }

    def __init__(self, *, queryset=None, **kwargs):
        self.queryset = queryset if queryset is not None else Commune.objects.all()
        kwargs.setdefault("help_text", "Tapez le nom, le code postal ou le code INSEE, puis choisissez dans la liste.")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, Commune):
            return value.label
        if isinstance(value, str) and value and LABEL_CODE.search(value) is None:
            commune = Commune.objects.filter(pk=value).first()
            return commune.label if commune else value
        return value

    def to_python(self, value):
        text = (value or "").strip()
        if not text:
            return None
        return resolve_commune(text, self.queryset, self.error_messages)


def resolve_commune(text, queryset=None, messages=None):
    """The one commune `text` designates, or a French ValidationError."""
    queryset = queryset if queryset is not None else Commune.objects.all()
    messages = messages or CommuneField.default_error_messages
    match = LABEL_CODE.search(text)
    code = match.group(1).upper() if match else None
    if code is None and re.fullmatch(r"[0-9][0-9AB][0-9]{3}", text, re.IGNORECASE):
        # Five digits may be an INSEE code or a postal code (13001 is both Aix and Marseille 1er).
        by_code = list(queryset.filter(pk=text.upper()))
        by_postcode = [
            c for c in queryset.filter(postal_codes__contains=text).order_by("name")[:20] if text in c.postal_code_list
        ]
        candidates = list({c.code: c for c in by_code + by_postcode}.values())
    elif code is not None:
        candidates = list(queryset.filter(pk=code))
    else:
        candidates = list(queryset.filter(search_name=Commune.normalise(text)).select_related("department")[:20])
    if not candidates:
        raise forms.ValidationError(messages["unknown"], code="unknown", params={"value": text})
    if len(candidates) > 1:
        choices = ", ".join(c.label for c in candidates[:6])
        raise forms.ValidationError(messages["ambiguous"], code="ambiguous", params={"value": text, "choices": choices})
    return candidates[0]


class PriorityAreaCodesField(forms.CharField):
    """QPV codes typed or pasted, separated by spaces, commas or semicolons."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Codes des QPV séparés par des virgules, par exemple : QN06901M, QN06902M.")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)) or hasattr(value, "__iter__") and not isinstance(value, str):
            return ", ".join(getattr(v, "code", str(v)) for v in value)
        return value

    def clean(self, value):
        text = super().clean(value) or ""
        tokens = [t for t in re.split(r"[\s,;]+", text.strip()) if t]
        if not tokens:
            return []
        malformed = [t for t in tokens if not PRIORITY_AREA_CODE.fullmatch(t)]
        if malformed:
            raise forms.ValidationError(
                "Code QPV mal formé : %(codes)s. Un code QPV ressemble à QN06901M.",
                params={"codes": ", ".join(malformed)},
            )
        codes = list(dict.fromkeys(t.upper() for t in tokens))
        found = {a.code: a for a in PriorityArea.objects.filter(code__in=codes).prefetch_related("communes")}
        unknown = [c for c in codes if c not in found]
        if unknown:
            raise forms.ValidationError(
                "Code QPV inconnu dans la liste officielle 2024 : %(codes)s.", params={"codes": ", ".join(unknown)}
            )
        return [found[c] for c in codes]


class PriorityAreaChoiceField(forms.MultipleChoiceField):
    """QPV ticked among those proposed for a commune (`propose`); cleans to PriorityArea objects."""

    widget = forms.CheckboxSelectMultiple
    template_name = "territories/_priority_areas_field.html"
    default_error_messages = {
        "invalid_choice": (
            "Le QPV %(value)s n'est ni sur la commune choisie ni sur une commune voisine : "
            "cochez un QPV de la liste, ou corrigez la commune."
        ),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(choices=[], **kwargs)
        self.commune = None
        self.areas = {}

    def propose(self, commune, kept=()):
        """Offer the QPV around `commune` (None: not chosen yet), plus `kept` (those already linked)."""
        self.commune = commune
        proposed = priority_areas_around(commune) if commune is not None else []
        self.areas = {area.code: area for area, _ in proposed}
        choices = [
            (area.code, f"{area.code} – {area.name}" + (f" ({place})" if place else "")) for area, place in proposed
        ]
        # Those no longer around the commune are named after their own communes (read for them alone).
        missing = [area for area in kept if area.code not in self.areas]
        prefetch_related_objects(missing, "communes")
        for area in missing:
            self.areas[area.code] = area
            places = ", ".join(sorted(c.name for c in area.communes.all()))
            choices.append((area.code, f"{area.code} – {area.name} ({places})"))
        self.choices = choices

    def valid_value(self, value):
        return value in self.areas

    def clean(self, value):
        codes = super().clean(value)
        # Their communes are read by Structure.check_priority_areas.
        return list(PriorityArea.objects.filter(code__in=codes).prefetch_related("communes")) if codes else []


_choices_cache = {}


def area_choices(kind):
    """(code, name) of all régions or départements, read once per process: reference data only
    changes with `load_territories`, which is followed by a restart."""
    if kind not in _choices_cache:
        model = {"region": Region, "department": Department}[kind]
        choices = [(a.code, str(a)) for a in model.objects.order_by("code" if kind == "department" else "name")]
        if not choices:
            return []
        _choices_cache[kind] = choices
    return _choices_cache[kind]


def area_codes(kind):
    """The codes of `area_choices(kind)`, as a set."""
    key = f"{kind}-codes"
    if key not in _choices_cache:
        codes = frozenset(code for code, _ in area_choices(kind))
        if not codes:
            return codes
        _choices_cache[key] = codes
    return _choices_cache[key]


class AreaSelect(FastSelect):
    """Its option list is drawn once per selected value and kept: it never changes while running."""

    rendered = {}

    def render(self, name, value, attrs=None, renderer=None):
        key = (name, str(value or ""), tuple(sorted((attrs or {}).items())), tuple(sorted(self.attrs.items())))
        if key not in self.rendered:
            if len(self.rendered) > 1000:  # typed values are arbitrary: keep the cache bounded
                self.rendered.clear()
            self.rendered[key] = super().render(name, value, attrs, renderer)
        return self.rendered[key]


class AreaChoiceField(forms.ChoiceField):
    """A région or département chosen by INSEE code, from the cached list."""

    widget = AreaSelect

    def __init__(self, kind, empty_label, **kwargs):
        self.kind = kind
        self.empty_label = empty_label
        super().__init__(choices=self.lazy_choices, **kwargs)

    def lazy_choices(self):
        return [("", self.empty_label), *area_choices(self.kind)]

    def valid_value(self, value):
        # A set lookup: Django would normalise and walk the ~100 choices on every request.
        if self.allowed is not None:
            return str(value) in self.allowed
        return str(value) in area_codes(self.kind)

    allowed = None

    def limit_to(self, codes):
        """Offer only the areas whose code is in `codes` (a user's scope); None keeps them all."""
        if codes is None:
            return
        self.allowed = frozenset(codes)
        self.choices = [("", self.empty_label), *((c, n) for c, n in area_choices(self.kind) if c in self.allowed)]
        # The shared rendering cache of AreaSelect knows only the full list.
        self.widget = FastSelect(attrs=self.widget.attrs, choices=self.choices)
