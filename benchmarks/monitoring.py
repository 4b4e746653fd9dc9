"""Monitoring benchmark: every ratio and alert status of 4,000 structures × 10 fiscal years, against a floor.

Run by `make bench-monitoring` (see benchmarks/README.md). Steps: (re)create a PostgreSQL database, migrate,
load the whole geography, then write directly (bulk) 4,000 structures spread over the départements, each with
its Caf approval and 10 accepted fiscal years of balanced accounts (some in deficit, some short of cash), and
the shipped alert rules. Measures, each the median of --runs: the floor (one hand-written SQL query computing
the same twelve ratios of every statement, window functions for the trends), Cadre computing every ratio and
status from an empty table (reads, rules, facts, bulk writes, département quartiles), and the recompute of one
structure after one of its statements changes. Prints the figures; writes benchmarks/results/monitoring.json.
"""

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import manage, recreate_database, setup_django  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cadre_bench_monitoring"
TARGET_FACTOR = 3  # from scratch ≤ 3 × the floor
TARGET_RECOMPUTE_S = 1.0
FIRST_YEAR = 2016


def log(message):
    print(message, flush=True)


# The twelve ratios of ratios.py written in SQL, for every accepted statement. `count(r.*)` makes PostgreSQL
# compute every column of every row (a bare count(*) lets it drop the ratios nobody reads).
FLOOR_SQL = """
WITH s AS (
  SELECT structure_id, starts_on, ends_on, net_result, cash, depreciation, staff_costs, tax_social_debts,
    subsidy_caf_service + subsidy_caf_other AS caf, subsidy_state, subsidy_region, subsidy_department,
    subsidy_municipal, subsidy_msa, subsidy_carsat, subsidy_other,
    subsidy_caf_service + subsidy_caf_other + subsidy_state + subsidy_region + subsidy_department
      + subsidy_municipal + subsidy_msa + subsidy_carsat AS public,
    subsidy_caf_service + subsidy_caf_other + subsidy_state + subsidy_region + subsidy_department
      + subsidy_municipal + subsidy_msa + subsidy_carsat + subsidy_other + users_contributions + other_income
      + financial_income + exceptional_income AS income,
    staff_costs + external_charges + depreciation + other_expenses + financial_exceptional_expenses AS expenses,
    association_funds + reserves + retained_earnings + balance_result AS equity,
    (ends_on - starts_on + 1) AS days,
    association_funds + reserves + retained_earnings + balance_result + provisions + dedicated_funds
      + financial_debts - fixed_assets AS wc,
    receivables - (supplier_debts + tax_social_debts + deferred_income) AS wcr
  FROM monitoring_financialstatement WHERE status = 'accepted'
), t AS (
  SELECT s.*,
    lag(income) OVER w AS previous_income,
    (starts_on - lag(ends_on) OVER w) <= 1 AS follows,
    lag(net_result < 0) OVER w AS previous_deficit
  FROM s WINDOW w AS (PARTITION BY structure_id ORDER BY ends_on)
), u AS (
  SELECT t.*, sum(CASE WHEN follows AND previous_deficit THEN 0 ELSE 1 END)
    OVER (PARTITION BY structure_id ORDER BY ends_on) AS chain FROM t
), r AS (
  SELECT structure_id, ends_on,
    round(net_result * 100 / nullif(income, 0), 1) AS net_margin,
    round(equity * days * 12 / nullif(expenses * 365, 0), 1) AS equity_months,
    round(cash * days / nullif(expenses - depreciation, 0), 1) AS cash_days,
    wc AS working_capital, wcr AS working_capital_requirement, wc - wcr AS net_cash,
    round(tax_social_debts * 100 / nullif(staff_costs, 0), 1) AS tax_social_debts_share,
    round(staff_costs * 100 / nullif(expenses, 0), 1) AS staff_share,
    round(greatest(caf, subsidy_state, subsidy_region, subsidy_department, subsidy_municipal, subsidy_msa,
      subsidy_carsat, subsidy_other) * 100 / nullif(income, 0), 1) AS first_funder_share,
    round(public * 100 / nullif(income, 0), 1) AS public_share,
    CASE WHEN follows THEN round((income - previous_income) * 100 / nullif(previous_income, 0), 1) END
      AS income_change,
    CASE WHEN net_result < 0 THEN row_number() OVER (PARTITION BY structure_id, chain ORDER BY ends_on) ELSE 0 END
      AS consecutive_deficits
  FROM u
)
SELECT count(r.*) FROM r
"""

D = Decimal


def generate(structures_count, years, seed=18):
    """4,000 structures on real communes (spread by commune population weight: every département has some), their
    approval, and `years` accepted statements each, balanced: one in six structures drifts into deficits."""
    from django.db import connection

    from cadre.monitoring.enums import StatementStatus
    from cadre.monitoring.models import FinancialStatement
    from cadre.structures.models import Approval, ApprovalKind, Management, Structure, StructureKind
    from cadre.territories.models import Commune

    rng = random.Random(seed)
    communes = list(Commune.objects.order_by("code").values_list("code", flat=True))
    structures = []
    for index in range(structures_count):
        centre = index % 12 < 7  # ≈ 2,300 centres sociaux, 1,700 EVS
        structures.append(
            Structure(
                name=f"{'Centre social' if centre else 'Espace de vie sociale'} n° {index + 1}",
                kind=StructureKind.CENTRE_SOCIAL if centre else StructureKind.EVS,
                management=Management.ASSOCIATION,
                commune_id=communes[(index * 7919) % len(communes)],
            )
        )
    Structure.objects.bulk_create(structures, batch_size=2000)
    today = datetime.date.today()
    Approval.objects.bulk_create(
        [
            Approval(
                structure=structure,
                kind=ApprovalKind.SOCIAL_PROJECT if structure.kind == StructureKind.CENTRE_SOCIAL else ApprovalKind.EVS,
                starts=datetime.date(today.year - 2, 1, 1),
                ends=datetime.date(today.year + rng.choice([0, 1, 1, 2]), rng.choice([3, 6, 12]), 28),
            )
            for structure in structures
        ],
        batch_size=2000,
    )
    statements = []
    for structure in structures:
        scale = D(rng.randint(450, 750) * 1000) if structure.kind == StructureKind.CENTRE_SOCIAL else D(60000)
        drifting = rng.random() < 1 / 6
        reserves = scale * D("0.15")
        debts = scale * D("0.06")
        for year in range(FIRST_YEAR, FIRST_YEAR + years):
            income = (scale * D(rng.randint(95, 105)) / 100).quantize(D(1))
            # Results in thousandths of the size: -8 to +5 ‰ drifting, -2 to +6 ‰ otherwise.
            result = (scale * D(rng.randint(-8, 5) if drifting else rng.randint(-2, 6)) / 600).quantize(D(1))
            expenses = income - result
            caf = (income * D("0.35")).quantize(D(1))
            town = (income * D(rng.randint(20, 55)) / 100).quantize(D(1))
            staff = (expenses * D("0.7")).quantize(D(1))
            debts = (debts * D(rng.randint(95, 115)) / 100).quantize(D(1))
            fixed, receivables = (scale * D("0.1")).quantize(D(1)), (scale * D("0.12")).quantize(D(1))
            cash = (scale * D(rng.randint(8, 45)) / 100).quantize(D(1))  # about 30 to 160 days of expenses
            supplier = (scale * D("0.04")).quantize(D(1))
            # The loss or profit carried forward balances the balance sheet.
            retained = fixed + receivables + cash - (reserves + result + supplier + debts)
            statements.append(
                FinancialStatement(
                    structure=structure,
                    starts_on=datetime.date(year, 1, 1),
                    ends_on=datetime.date(year, 12, 31),
                    year=year,
                    status=StatementStatus.ACCEPTED,
                    subsidy_caf_service=caf,
                    subsidy_municipal=town,
                    users_contributions=income - caf - town,
                    staff_costs=staff,
                    depreciation=D(10000),
                    external_charges=expenses - staff - 10000,
                    operating_result=result,
                    net_result=result,
                    balance_result=result,
                    fixed_assets=fixed,
                    receivables=receivables,
                    cash=cash,
                    reserves=reserves,
                    retained_earnings=retained,
                    supplier_debts=supplier,
                    tax_social_debts=debts,
                )
            )
            reserves += result
    FinancialStatement.objects.bulk_create(statements, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    return len(structures), len(statements)


def timed(work):
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def measure(runs, recomputes):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cadre.monitoring.alerts import compute_statuses
    from cadre.monitoring.models import FinancialStatement, HealthStatus, RatioQuartiles

    def floor():
        with connection.cursor() as cursor:
            cursor.execute(FLOOR_SQL)
            return cursor.fetchone()[0]

    def emptied():
        with connection.cursor() as cursor:
            for model in (HealthStatus, RatioQuartiles):
                cursor.execute(f"TRUNCATE {connection.ops.quote_name(model._meta.db_table)}")
            cursor.execute("CHECKPOINT")

    floors, scratch = [], []
    rows = statuses = 0
    for _ in range(runs):  # alternated: a drift of the machine falls on both
        seconds, rows = timed(floor)
        floors.append(seconds)
        emptied()
        with CaptureQueriesContext(connection) as queries:
            seconds, statuses = timed(compute_statuses)
        scratch.append(seconds)
    scratch_queries = len(queries.captured_queries)

    # One statement changes (cash moved to reserves, the balance sheet still balanced), then its structure alone.
    statement = FinancialStatement.objects.accepted().order_by("structure_id", "-year")[1234]
    recompute, recompute_queries = [], 0
    for index in range(recomputes):
        delta = D(500) if index % 2 == 0 else D(-500)
        FinancialStatement.objects.filter(pk=statement.pk).update(cash=statement.cash + delta)
        with CaptureQueriesContext(connection) as queries:
            seconds, _ = timed(lambda: compute_statuses([statement.structure_id]))
        recompute.append(seconds)
        recompute_queries = len(queries.captured_queries)
    FinancialStatement.objects.filter(pk=statement.pk).update(cash=statement.cash)
    floor_s, scratch_s = statistics.median(floors), statistics.median(scratch)
    return {
        "statements": rows,
        "statuses": statuses,
        "alerts": HealthStatus.objects.filter(level="alerte").count(),
        "vigilance": HealthStatus.objects.filter(level="vigilance").count(),
        "floor_seconds": round(floor_s, 3),
        "from_scratch_seconds": round(scratch_s, 3),
        "from_scratch_queries": scratch_queries,
        "ratio": round(scratch_s / floor_s, 1),
        "recompute_median_seconds": round(statistics.median(recompute), 3),
        "recompute_max_seconds": round(max(recompute), 3),
        "recompute_queries": recompute_queries,
        "runs": runs,
        "recomputes": recomputes,
        "breakdown_seconds": breakdown(),
    }


def breakdown():
    """Where the time of a national recompute goes, step by step (one run, nothing written but the statuses, rolled
    back): the steps of compute_statuses one after the other, where it overlaps the rules with the writing."""
    from django.db import connection, transaction

    from cadre.monitoring import alerts
    from cadre.monitoring.models import AlertRule, HealthStatus
    from cadre.structures.models import Structure

    steps = {}
    started = time.perf_counter()

    def step(name):
        nonlocal started
        now = time.perf_counter()
        steps[name] = round(now - started, 3)
        started = now

    rules = list(AlertRule.objects.active())
    today = datetime.date.today()
    alerts.statement_figures(None)
    step("ratios de chaque compte (une requête SQL)")
    signals, ratios = alerts.read_signals(None, today, {rule.signal for rule in rules})
    step("signaux (ces ratios à nouveau, les autres données)")
    departments = dict(Structure.objects.values_list("pk", "commune__department_id"))
    now = datetime.datetime.now(datetime.UTC)
    statuses, rows = [], []
    for structure_id, department in departments.items():
        for year, (level, facts) in alerts.apply_rules(rules, signals.get(structure_id, {})).items():
            year_ratios = ratios.get((structure_id, year), {})
            statuses.append((structure_id, year, level, facts, year_ratios, now, now))
            if year_ratios:
                rows.append((department, year, year_ratios))
    step("règles et faits écrits")
    alerts.quartile_rows(rows)
    step("quartiles")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {connection.ops.quote_name(HealthStatus._meta.db_table)}")
            started = time.perf_counter()
            alerts.write_rows(HealthStatus, alerts.STATUS_COLUMNS, statuses)
            step("écriture des états (COPY binaire)")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            step("clés étrangères vérifiées")
        transaction.set_rollback(True)
    return steps


def figure(seconds):
    return f"{seconds:.3f}".replace(".", ",") + " s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    parser.add_argument("--structures", type=int, default=4000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3, help="mesures du calcul complet et du socle (médiane)")
    parser.add_argument("--recomputes", type=int, default=20, help="recalculs d'une structure (médiane, maximum)")
    parser.add_argument("--reuse", action="store_true", help="garder la base déjà préparée")
    options = parser.parse_args()
    if not options.database_url.startswith("postgres"):
        raise SystemExit("Ce banc de mesure tourne sur PostgreSQL (DATABASE_URL=postgres://…).")
    env = {**os.environ, "DATABASE_URL": options.database_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DJANGO_DEBUG", None)
    RESULTS.mkdir(parents=True, exist_ok=True)

    preparation = {}
    if not options.reuse:
        log("Base recréée ; migration, géographie…")
        recreate_database(options.database_url)
        preparation["migrate_s"] = round(manage(env, "migrate", "--no-input", "-v0"), 1)
        preparation["load_territories_s"] = round(manage(env, "load_territories"), 1)
        preparation["load_alert_rules_s"] = round(manage(env, "load_alert_rules"), 1)
    setup_django(env)
    if not options.reuse:
        log(f"Écriture de {options.structures} structures × {options.years} exercices de comptes acceptés…")
        seconds, (structures, statements) = timed(lambda: generate(options.structures, options.years))
        preparation["generate_s"] = round(seconds, 1)
        log(f"{structures} structures, {statements} comptes en {seconds:.1f} s")

    log("Mesures…")
    results = measure(options.runs, options.recomputes)
    log("")
    log(
        f"{results['statements']} comptes acceptés ; {results['statuses']} états calculés "
        f"({results['alerts']} en alerte, {results['vigilance']} en vigilance)."
    )
    log(f"{'mesure':<52} {'temps':>10} {'rapport':>9} {'requêtes':>9}")
    log(f"{'socle : une requête SQL, les 12 ratios de chaque compte':<52} {figure(results['floor_seconds']):>10}")
    target = "tenue" if results["ratio"] <= TARGET_FACTOR else "NON tenue"
    log(
        f"{'tous les ratios et états, depuis une table vide':<52} {figure(results['from_scratch_seconds']):>10} "
        f"{str(results['ratio']).replace('.', ',') + ' ×':>9} {results['from_scratch_queries']:>9}"
        f"   cible ≤ {TARGET_FACTOR} × le socle : {target}"
    )
    target = "tenue" if results["recompute_max_seconds"] < TARGET_RECOMPUTE_S else "NON tenue"
    log(
        f"{'recalcul d une structure après un compte modifié':<52} "
        f"{figure(results['recompute_median_seconds']):>10} {'':>9} {results['recompute_queries']:>9}"
        f"   maximum {figure(results['recompute_max_seconds'])} ; cible < 1 s : {target}"
    )
    log(
        "Décomposition d'un calcul complet : "
        + " ; ".join(f"{name} {figure(seconds)}" for name, seconds in results["breakdown_seconds"].items())
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    document = {
        "benchmark": "monitoring",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit.stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "preparation": preparation,
        "results": results,
    }
    (RESULTS / "monitoring.json").write_text(json.dumps(document, ensure_ascii=False, indent=2))
    log(f"Résultats : {RESULTS / 'monitoring.json'}")


if __name__ == "__main__":
    main()
