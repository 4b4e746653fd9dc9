"""Questionnaire files (TOML, see docs/questionnaires.md): read, and check every part before any write."""

import decimal
import hashlib
import tomllib

from cadre.observatory import expressions
from cadre.observatory.models import CHOICE_KINDS, CODE_PATTERN, NUMERIC_KINDS, QuestionKind, RuleLevel
from cadre.structures.models import StructureKind

STRUCTURE_KINDS = [kind for kind, _ in StructureKind.choices]
REGISTRY_FIELDS = {
    *("kind", "management", "manager_name", "commune", "federation", "served_population", "territory_type"),
    *("territory_size", "priority_area_status", "priority_areas", "project_axes", "first_approval_date", "approvals"),
}
HEADER_KEYS = {"code", "version", "title", "description", "sections", "rules"}
SECTION_KEYS = {"code", "title", "description", "applies_to", "registry", "questions"}
QUESTION_KEYS = {
    *("code", "label", "type", "help", "unit", "required", "min", "max", "shown_if", "prefill"),
    *("change_threshold", "applies_to", "choices"),
}
RULE_KEYS = {"code", "level", "check", "message", "questions"}
# Column names of the answer spreadsheets that a question code may not take.
RESERVED_CODES = {"identifiant"}


class DefinitionError(ValueError):
    """A questionnaire file that cannot be loaded; `errors` lists every fault with its place."""

    def __init__(self, errors):
        super().__init__("\n".join(errors))
        self.errors = errors


def read(path):
    """(definition, SHA-256 of the file) — DefinitionError if it is not valid TOML or not valid."""
    content = path.read_bytes()
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise DefinitionError([f"{path.name} : le fichier doit être encodé en UTF-8."]) from None
    except tomllib.TOMLDecodeError as error:
        raise DefinitionError([f"{path.name} : TOML invalide ({error})."]) from None
    errors = check(data)
    if errors:
        raise DefinitionError(errors)
    return data, hashlib.sha256(content).hexdigest()


def check(data):
    """Every fault of a definition, in French, each with where it is."""
    errors = []
    _unknown_keys(errors, "en-tête", data, HEADER_KEYS)
    if not isinstance(data.get("code"), str) or not CODE_PATTERN.match(data.get("code", "")):
        errors.append("en-tête : « code » doit être en minuscules sans accent (lettres, chiffres, _).")
    if not isinstance(data.get("version"), int) or isinstance(data.get("version"), bool) or data["version"] < 1:
        errors.append("en-tête : « version » doit être un entier positif.")
    if not isinstance(data.get("title"), str) or not data.get("title", "").strip():
        errors.append("en-tête : « title » est obligatoire.")
    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        errors.append("en-tête : le questionnaire n'a aucune rubrique ([[sections]]).")
        return errors
    section_codes, questions = set(), {}
    for number, section in enumerate(sections, start=1):
        if not isinstance(section, dict):
            errors.append(f"rubrique {number} : une table TOML est attendue ([[sections]]).")
            continue
        where = f"rubrique {section.get('code') or number}"
        _unknown_keys(errors, where, section, SECTION_KEYS)
        _code(errors, where, section.get("code"), section_codes)
        if not str(section.get("title", "")).strip():
            errors.append(f"{where} : « title » est obligatoire.")
        _kinds(errors, where, section.get("applies_to"))
        for field in section.get("registry", []):
            if field not in REGISTRY_FIELDS:
                errors.append(
                    f"{where} : « {field} » n'est pas un fait du répertoire ({', '.join(sorted(REGISTRY_FIELDS))})."
                )
        if not section.get("questions"):
            errors.append(f"{where} : aucune question.")
        for question in section.get("questions", []):
            if not isinstance(question, dict):
                errors.append(f"{where} : chaque question est une table TOML ([[sections.questions]]).")
                continue
            _question(errors, where, question, questions)
    for where, question in questions.values():
        if question.get("shown_if"):
            _expression(errors, f"{where}, « shown_if »", question["shown_if"], questions)
    rule_codes = set()
    for number, rule in enumerate(data.get("rules", []), start=1):
        if not isinstance(rule, dict):
            errors.append(f"règle {number} : une table TOML est attendue ([[rules]]).")
            continue
        where = f"règle {rule.get('code') or number}"
        _unknown_keys(errors, where, rule, RULE_KEYS)
        _code(errors, where, rule.get("code"), rule_codes)
        if rule.get("level") not in RuleLevel.values:
            errors.append(f"{where} : « level » vaut « error » ou « warning ».")
        if not str(rule.get("message", "")).strip():
            errors.append(f"{where} : « message » est obligatoire.")
        if not rule.get("check"):
            errors.append(f"{where} : « check » est obligatoire.")
        else:
            _expression(errors, f"{where}, « check »", rule["check"], questions)
        anchors = rule.get("questions") or []
        if not anchors:
            errors.append(f"{where} : « questions » doit nommer au moins une question (où afficher le message).")
        for code in anchors:
            if code not in questions:
                errors.append(f"{where} : la question « {code} » n'existe pas.")
    return errors


def _question(errors, section_where, question, questions):
    code = question.get("code")
    where = f"{section_where}, question {code or '?'}"
    _unknown_keys(errors, where, question, QUESTION_KEYS)
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        errors.append(f"{where} : code invalide (minuscules sans accent, chiffres, _, 40 caractères au plus).")
    elif code in questions:
        errors.append(f"{where} : le code « {code} » est déjà celui d'une autre question.")
    elif code in RESERVED_CODES:
        errors.append(f"{where} : le code « {code} » est réservé (colonne des tableurs de réponses).")
    else:
        questions[code] = (where, question)
    if not str(question.get("label", "")).strip():
        errors.append(f"{where} : « label » est obligatoire.")
    kind = question.get("type")
    if kind not in QuestionKind.values:
        errors.append(f"{where} : type « {kind} » inconnu ({', '.join(QuestionKind.values)}).")
        return
    bounds = {}
    for key in ("min", "max"):
        if key in question:
            value = question[key]
            if kind not in NUMERIC_KINDS:
                errors.append(f"{where} : « {key} » ne vaut que pour une question numérique.")
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                errors.append(f"{where} : « {key} » doit être un nombre.")
            else:
                bounds[key] = decimal.Decimal(repr(value))
    if len(bounds) == 2 and bounds["min"] > bounds["max"]:
        errors.append(f"{where} : « min » dépasse « max ».")
    threshold = question.get("change_threshold")
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold <= 0
    ):
        errors.append(f"{where} : « change_threshold » est une part positive (0.5 pour 50 %).")
    choices = question.get("choices")
    if kind in CHOICE_KINDS:
        if not isinstance(choices, list) or len(choices) < 2:
            errors.append(f"{where} : une question à choix propose au moins deux choix.")
        else:
            seen = set()
            for choice in choices:
                choice_code = choice.get("code") if isinstance(choice, dict) else None
                if not isinstance(choice_code, str) or not CODE_PATTERN.match(choice_code):
                    errors.append(f"{where} : choix au code invalide ({choice}).")
                elif choice_code in seen:
                    errors.append(f"{where} : le choix « {choice_code} » est en double.")
                seen.add(choice_code)
                if isinstance(choice, dict) and not str(choice.get("label", "")).strip():
                    errors.append(f"{where} : le choix « {choice_code} » n'a pas de libellé.")
    elif choices:
        errors.append(f"{where} : « choices » ne vaut que pour choice et multiple_choice.")
    _kinds(errors, where, question.get("applies_to"))


def _expression(errors, where, source, questions):
    try:
        names = expressions.parse(str(source))
    except expressions.ExpressionError as error:
        errors.append(f"{where} : {error}.")
        return
    for name in sorted(names - questions.keys()):
        errors.append(f"{where} : « {name} » n'est pas le code d'une question.")


def _code(errors, where, code, seen):
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        errors.append(f"{where} : code invalide (minuscules sans accent, chiffres, _, 40 caractères au plus).")
    elif code in seen:
        errors.append(f"{where} : le code « {code} » est en double.")
    seen.add(code)


def _kinds(errors, where, kinds):
    if kinds is None:
        return
    if not isinstance(kinds, list) or not kinds or any(k not in STRUCTURE_KINDS for k in kinds):
        errors.append(f"{where} : « applies_to » liste des types de structure ({', '.join(STRUCTURE_KINDS)}).")


def _unknown_keys(errors, where, table, known):
    for key in sorted(table.keys() - known):
        errors.append(f"{where} : clé « {key} » inconnue.")
