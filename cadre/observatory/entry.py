"""A submission as its pages show it: questions asked, answers, issues, last year's answers, progress.

Loaded once per request (a fixed number of queries, whatever the number of questions), then read
by the overview, the section pages, the autosave fragment and the printable copy.
"""

import dataclasses

from django.utils.functional import cached_property

from cadre.observatory.models import (
    CHOICE_KINDS,
    NUMERIC_KINDS,
    Anomaly,
    Answer,
    QuestionKind,
    SubmissionStatus,
    asked_questions,
    check_answers,
)


@dataclasses.dataclass
class Item:
    """One question on a page."""

    question: object
    answer: object
    asked: bool
    issues: list
    anomalies: list = dataclasses.field(default_factory=list)
    entry: object = dataclasses.field(default=None, repr=False)

    @property
    def previous(self):
        """Last year's validated answer offered for this question, or None. Read (for the whole submission, in
        one query) by the first item asked: the overview, the return page and the printable copy never ask."""
        if self.entry is None or not self.question.prefill:
            return None
        return self.entry.previous.get(self.code)

    @property
    def code(self):
        return self.question.code

    @property
    def value(self):
        return self.answer.value if self.answer is not None else None

    @property
    def display(self):
        return self.question.display(self.value)

    @property
    def version(self):
        return self.answer.version if self.answer is not None else 0

    @property
    def comment(self):
        return self.answer.comment if self.answer is not None else ""

    @property
    def errors(self):
        return [i for i in self.issues if i.is_error and not i.is_missing]

    @property
    def missing(self):
        return any(i.is_missing for i in self.issues)

    @property
    def warnings(self):
        return [i for i in self.issues if not i.is_error]

    @property
    def needs_comment(self):
        """A warning rule anchored here, or a comment already written: show the justification box."""
        return bool(self.comment) or any(not i.is_error for i in self.issues)

    @property
    def state(self):
        if self.errors:
            return "error"
        if self.warnings:
            return "warning"
        return "valid" if self.answer is not None and self.value is not None else ""

    @property
    def number_hint(self):
        """How to write the number, with its unit and bounds: « Nombre entier de 0 à 500 (personnes). »"""
        question = self.question
        kind = {
            QuestionKind.INTEGER: "Nombre entier",
            QuestionKind.DECIMAL: "Nombre (virgule pour les décimales)",
            QuestionKind.AMOUNT: "Montant en euros, par exemple 12 345,67",
            QuestionKind.PERCENTAGE: "Pourcentage",
        }[question.kind]
        bounds = question.bounds_label
        if question.kind == QuestionKind.PERCENTAGE and not bounds:
            bounds = "de 0 à 100"
        unit = question.unit if question.unit and question.kind in (QuestionKind.INTEGER, QuestionKind.DECIMAL) else ""
        return f"{kind}{' ' + bounds if bounds else ''}{f' ({unit})' if unit else ''}."

    @property
    def previous_display(self):
        return self.question.display(self.previous) if self.previous is not None else ""

    @property
    def widget(self):
        """How the field is drawn: text, number, textarea, radios, select or checkboxes."""
        kind = self.question.kind
        if kind in NUMERIC_KINDS:
            return "number"
        if kind == QuestionKind.BOOLEAN:
            return "boolean"
        if kind == QuestionKind.CHOICE:
            return "radios" if len(self.question.choices) <= 6 else "select"
        if kind == QuestionKind.MULTIPLE_CHOICE:
            return "checkboxes"
        return "textarea" if kind == QuestionKind.LONG_TEXT else "text"

    @property
    def input_value(self):
        """The value as written back into its field (French writing for numbers)."""
        value = self.value
        if value is None:
            return ""
        if self.question.kind in NUMERIC_KINDS or self.question.kind in CHOICE_KINDS:
            return self.question.display(value) if self.question.kind in NUMERIC_KINDS else value
        return value

    @property
    def selected(self):
        value = self.value
        if value is None:
            return []
        return value if isinstance(value, list) else [value]


@dataclasses.dataclass
class SectionProgress:
    section: object
    asked: int
    answered: int
    missing: int
    errors: int
    warnings: int
    remarks: int

    @property
    def complete(self):
        return self.asked > 0 and not self.missing and not self.errors and not self.warnings

    @property
    def percent(self):
        return round(100 * self.answered / self.asked) if self.asked else 100


_definitions = {}


def version_key(questionnaire):
    """What names a loaded version of a questionnaire for good: row, file digest, load time. A loaded version
    never changes in place (a new file is a new row, see load_questionnaire): what is built from its questions
    alone may be kept per process under this key."""
    return (questionnaire.pk, questionnaire.digest, questionnaire.loaded_at)


def definition(questionnaire):
    """(sections, questions, rules) of a questionnaire, read once per process.

    The key (`version_key`) cannot go stale; pages are spared three queries and the building of every
    question.
    """
    key = version_key(questionnaire)
    found = _definitions.get(key)
    if found is None:
        if len(_definitions) > 50:
            _definitions.clear()
        found = (
            list(questionnaire.sections.all()),
            list(questionnaire.questions.select_related("section")),
            list(questionnaire.rules.all()),
        )
        _definitions[key] = found
    return found


class Entry:
    def __init__(self, submission):
        self.submission = submission
        self.questionnaire = submission.campaign.questionnaire
        self.kind = submission.structure.kind
        sections, questions, rules = definition(self.questionnaire)
        self.sections = [s for s in sections if s.applies(self.kind)]
        section_ids = {s.pk for s in self.sections}
        self.questions = [q for q in questions if q.section_id in section_ids and q.applies(self.kind)]
        self.rules = rules
        by_id = {q.pk: q for q in self.questions}
        self.answers = {}
        # Without who wrote each answer: no page of a submission shows it (a conflict reads it again, stored).
        for answer in Answer.objects.filter(submission=submission):
            question = by_id.get(answer.question_id)
            if question is not None:
                answer.question = question
                self.answers[question.code] = answer
        self.anomalies = {}
        for anomaly in Anomaly.objects.filter(submission=submission).select_related("queried_by", "resolved_by"):
            if anomaly.question_id in by_id:
                anomaly.question = by_id[anomaly.question_id]
                self.anomalies.setdefault(anomaly.question.code, []).append(anomaly)

    @cached_property
    def values(self):
        return {code: answer.value for code, answer in self.answers.items()}

    @cached_property
    def comments(self):
        return {code: a.comment for code, a in self.answers.items() if a.comment}

    @cached_property
    def asked_codes(self):
        return {q.code for q in asked_questions(self.questions, self.kind, self.values)}

    @cached_property
    def issues(self):
        found = {}
        for issue in check_answers(self.questions, self.rules, self.kind, self.values, self.comments):
            found.setdefault(issue.question_code, []).append(issue)
        return found

    @cached_property
    def previous(self):
        """Last year's validated answers of the questions that offer them: {code: value}."""
        prefill = {q.code: q for q in self.questions if q.prefill}
        rows = Answer.objects.filter(
            # Last year's campaign by its year (unique), in this query rather than one of its own.
            submission__campaign__year=self.submission.campaign.year - 1,
            submission__structure_id=self.submission.structure_id,
            submission__status=SubmissionStatus.VALIDATED,
            question__code__in=list(prefill),
        ).select_related("question")
        found = {}
        for answer in rows:
            # Read with last year's question (its kind), keep only what this year's can take.
            value = answer.value
            try:
                prefill[answer.question.code].parse(_as_raw(value))
            except Exception:  # noqa: BLE001 — a value the new version no longer accepts is not offered
                continue
            found[answer.question.code] = value
        return found

    def item(self, question):
        code = question.code
        return Item(
            question=question,
            answer=self.answers.get(code),
            asked=code in self.asked_codes,
            issues=self.issues.get(code, []),
            anomalies=self.anomalies.get(code, []),
            entry=self,
        )

    def items(self, section):
        return [self.item(q) for q in self.by_section[section.pk]]

    @cached_property
    def by_section(self):
        """{section id: its questions, in order}."""
        found = {s.pk: [] for s in self.sections}
        for question in self.questions:
            found[question.section_id].append(question)
        return found

    def section(self, code):
        return next((s for s in self.sections if s.code == code), None)

    def question(self, code):
        return next((q for q in self.questions if q.code == code), None)

    def progress(self):
        """One row per section: what is asked, answered, missing, wrong; counted once per Entry (the overview
        shows it, then its totals)."""
        return self._progress

    @cached_property
    def _progress(self):
        rows = []
        for section in self.sections:
            asked = [q for q in self.by_section[section.pk] if q.code in self.asked_codes]
            issues = [i for q in asked for i in self.issues.get(q.code, [])]
            rows.append(
                SectionProgress(
                    section=section,
                    asked=len(asked),
                    answered=sum(1 for q in asked if self.values.get(q.code) is not None),
                    missing=sum(1 for i in issues if i.is_missing),
                    errors=sum(1 for i in issues if i.is_error and not i.is_missing),
                    warnings=sum(1 for i in issues if not i.is_error),
                    remarks=sum(1 for q in asked for a in self.anomalies.get(q.code, []) if a.is_unresolved),
                )
            )
        return rows

    def totals(self):
        rows = self.progress()
        return {
            "asked": sum(r.asked for r in rows),
            "answered": sum(r.answered for r in rows),
            "missing": sum(r.missing for r in rows),
            "errors": sum(r.errors for r in rows),
            "warnings": sum(r.warnings for r in rows),
        }

    def prefillable(self, section):
        """Questions of `section` with last year's answer offered and no answer yet."""
        return [
            q
            for q in self.questions
            if q.section_id == section.pk
            and q.code in self.previous
            and q.code in self.asked_codes
            and self.values.get(q.code) is None
        ]


def _as_raw(value):
    if isinstance(value, bool):
        return "oui" if value else "non"
    return value
