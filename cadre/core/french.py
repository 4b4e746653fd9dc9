"""French grammar where a number or a name is inserted in a sentence: one pluralising helper and the
preposition « de » before a name (« du » before « Le… », « des » before « Les… », « d’ » before a vowel)."""

from decimal import Decimal

from cadre.core.charts import format_number

VOWELS = set("aeiouyàâäéèêëîïôöùûüÿæœAEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜŸÆŒ")


def plural(count, forms, *, with_number=True):
    """« 0 structure », « 1 structure », « 2 structures », « 1,5 heure »: French takes the singular
    below two. `forms` is « structure » (plural: an added « s ») or « singulier,pluriel »
    (« cheval,chevaux », « reste,restent »)."""
    singular, _, many = forms.partition(",")
    many = many or f"{singular}s"
    number = Decimal(str(count or 0))
    word = singular if abs(number) < 2 else many
    if not with_number:
        return word
    decimals = 0 if number == number.to_integral_value() else 1
    return f"{format_number(number, decimals)} {word}"


def unit_for(count, unit):
    """A unit agreed with its number: « 0 personne », « 3 personnes »; symbols (€, %, ETP) as they are."""
    if unit.islower() and unit.isalpha() and unit.endswith("s") and len(unit) > 2:
        return plural(count, f"{unit[:-1]},{unit}", with_number=False)
    return unit


def of(name):
    """« de » before a name: « du Centre » only for « Le Centre », « des » for « Les… », « d’Élodie »."""
    name = str(name).strip()
    for article, joined in (("Le ", "du "), ("Les ", "des ")):
        if name.startswith(article):
            return joined + name[len(article) :]
    if name[:1] in VOWELS:
        return f"d’{name}"
    return f"de {name}"
