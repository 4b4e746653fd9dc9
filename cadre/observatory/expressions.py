"""The small expression language of questionnaires (`shown_if`, cross-question rules).

Names are question codes; see docs/questionnaires.md. Evaluation goes through simpleeval (no
attribute access, no calls but `len`), with numbers as Decimal so that sums of amounts compare
exactly.
"""

import ast
import decimal
import functools
import threading

from simpleeval import SimpleEval

CONSTANTS = {"true": True, "false": False}
FUNCTIONS = {"len": len}


class ExpressionError(ValueError):
    pass


@functools.lru_cache(maxsize=4096)
def parse(source):
    """The question codes `source` reads; ExpressionError (French) if it is not a valid expression.

    Cached: a page checks the same few dozen expressions for every question it shows."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"expression invalide « {source} » : {error.msg}") from None
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in CONSTANTS and node.id not in FUNCTIONS:
            names.add(node.id)
        elif isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            raise ExpressionError(f"expression invalide « {source} » : seule la fonction len() est permise")
        elif isinstance(node, (ast.Attribute, ast.Subscript, ast.Lambda, ast.NamedExpr)):
            raise ExpressionError(f"expression invalide « {source} » : construction non permise")
    return frozenset(names)


@functools.lru_cache(maxsize=4096)
def _tree(source):
    return ast.parse(source.strip()).body[0]


class _Evaluator(SimpleEval):
    def __init__(self):
        super().__init__(functions=FUNCTIONS, names=dict(CONSTANTS))
        self.nodes[ast.Constant] = self._constant

    @staticmethod
    def _constant(node):
        # 1.2 in a rule is read as the decimal 1.2, not the nearest binary float.
        return decimal.Decimal(repr(node.value)) if isinstance(node.value, float) else node.value


def evaluate(source, values):
    """The value of `source` with `values` ({code: value}); None when a name it reads has no value
    (unanswered or not asked) or the arithmetic fails (a division by zero)."""
    names = parse(source)
    if any(values.get(name) is None for name in names):
        return None
    evaluator = _evaluator()
    evaluator.names = {**CONSTANTS, **{name: values[name] for name in names}}
    try:
        return evaluator.eval(source, previously_parsed=_tree(source))
    except (ArithmeticError, TypeError):
        return None


_local = threading.local()


def _evaluator():
    """One evaluator per thread: building one costs more than evaluating a rule."""
    if not hasattr(_local, "evaluator"):
        _local.evaluator = _Evaluator()
    return _local.evaluator
