"""Indicators benchmark: full rebuild, refresh after one validation, dashboard and report pages, PDF.

Run by `make bench-indicators` (see benchmarks/README.md) on the database of the observatory
benchmark (`benchmarks/observatory.py` prepares it: ≈ 4,000 structures × 10 campaigns), which it
migrates and gives the default indicators. Measures
- the full rebuild of the default indicators for every territory and year, from an empty table,
  against the floor: one hand-written SQL query computing the shares of the yes/no indicators
  with GROUP BY GROUPING SETS over the five territory levels (computed, not stored). Three rebuilds
  are timed: of those same shares only (from an empty table), of every default indicator (from an
  empty table), and of every default indicator again (nothing changed, so nothing is written);
- the refresh of the current indicators after validating one submission (its five territories);
- the dashboard and the report page (gunicorn, in rounds like foundation.py) against the empty page;
- the PDF of a département's report and of the national one.
Prints a table and writes benchmarks/results/indicators.json. Timings are never asserted in tests.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import foundation  # noqa: E402 — database, gunicorn, sessions, timing in rounds
import observatory  # noqa: E402 — its database and bench user

RESULTS = foundation.RESULTS
TARGET_FACTOR = 3
log = foundation.log

FLOOR_SQL = """
SELECT count(*) FROM (
  SELECT c.year, q.code, d.region_id, co.department_id, co.epci_id, co.code,
         count(*) FILTER (WHERE a.number = 1) AS yes, count(a.number) AS answered
  FROM observatory_answer a
  JOIN observatory_submission s ON s.id = a.submission_id AND s.status = 'validated'
  JOIN observatory_campaign c ON c.id = s.campaign_id
  JOIN observatory_question q ON q.id = a.question_id AND q.code = ANY(%s)
  JOIN structures_structure st ON st.id = s.structure_id
  JOIN territories_commune co ON co.code = st.commune_id
  JOIN territories_department d ON d.code = co.department_id
  GROUP BY GROUPING SETS ((c.year, q.code), (c.year, q.code, d.region_id), (c.year, q.code, co.department_id),
                          (c.year, q.code, co.epci_id), (c.year, q.code, co.code))
) AS shares
"""


def best_of(runs, work):
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), result


def rebuild_figures(runs):
    from django.db import connection

    from cadre.indicators.compute import rebuild
    from cadre.indicators.models import Indicator, IndicatorValue, Operator

    shares = sorted(
        {
            code
            for i in Indicator.objects.current().filter(kind="share", operator=Operator.YES)
            for code in i.question_codes()
        }
    )

    def floor():
        with connection.cursor() as cursor:
            cursor.execute(FLOOR_SQL, [shares])
            return cursor.fetchone()[0]

    floor_s, floor_rows = best_of(runs, floor)

    current = list(Indicator.objects.current())
    same = [i.pk for i in current if i.kind == "share" and i.operator == Operator.YES]

    def emptied():
        # As after autovacuum: the dead rows of the previous run would slow the inserts.
        IndicatorValue.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {IndicatorValue._meta.db_table}")

    def timed(work):
        started = time.perf_counter()
        result = work()
        return time.perf_counter() - started, result

    runs_same, runs_all, runs_again = [], [], []
    for _ in range(runs):
        emptied()
        runs_same.append(timed(lambda: rebuild(same))[0])
        emptied()
        seconds, counts = timed(rebuild)
        runs_all.append(seconds)
        runs_again.append(timed(rebuild)[0])  # nothing changed: computed, compared, nothing written
    same_s, rebuild_s, again_s = (statistics.median(r) for r in (runs_same, runs_all, runs_again))
    write_s = best_of(runs, write_only)[0]
    return {
        "write_only_seconds": round(write_s, 2),
        "same_shares_seconds": round(same_s, 2),
        "same_shares_indicators": len(same),
        "same_shares_ratio": round(same_s / floor_s, 2),
        "rebuild_seconds": round(rebuild_s, 2),
        "unchanged_rebuild_seconds": round(again_s, 2),
        "values": sum(counts.values()),
        "years": len(counts),
        "indicators": len(current),
        "floor_seconds": round(floor_s, 2),
        "floor_rows": floor_rows,
        "floor_questions": shares,
        "ratio": round(rebuild_s / floor_s, 2),
        "unchanged_ratio": round(again_s / floor_s, 2),
    }


def write_only():
    """Copy the stored values, computed already, into an empty table with the same indexes: what
    materialising them costs before any computing (the floor computes, it writes nothing)."""
    from django.db import connection, transaction

    from cadre.indicators.models import IndicatorValue

    table = connection.ops.quote_name(IndicatorValue._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(f.column) for f in IndicatorValue._meta.concrete_fields if f.name != "id"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE bench_values (LIKE {table} INCLUDING ALL) ON COMMIT DROP")
        cursor.execute(f"INSERT INTO bench_values ({columns}) SELECT {columns} FROM {table} ORDER BY 1, 2, 3, 4")
        return cursor.rowcount


def refresh_figures(samples):
    """Validate a submitted questionnaire (the refresh runs as its task: here in this process), timed."""
    from django.conf import settings
    from django.db.models import Count

    from cadre.indicators.compute import refresh_structure
    from cadre.observatory.models import Submission, SubmissionStatus

    # The year with the most validated questionnaires: a territory's refresh reads them all.
    validated = Submission.objects.filter(status=SubmissionStatus.VALIDATED)
    year = (
        validated.values("campaign__year")
        .annotate(n=Count("pk"))
        .order_by("-n", "-campaign__year")[0]["campaign__year"]
    )
    structures = list(
        Submission.objects.filter(campaign__year=year, status=SubmissionStatus.VALIDATED)
        .order_by("pk")
        .values_list("structure_id", flat=True)[:samples]
    )
    timings = []
    for structure_id in structures:
        started = time.perf_counter()
        refresh_structure(structure_id, year)
        timings.append(time.perf_counter() - started)
    assert settings.TASKS["default"]["BACKEND"].endswith("DatabaseBackend")
    return {
        "year": year,
        "samples": len(timings),
        "median_seconds": round(statistics.median(timings), 3),
        "max_seconds": round(max(timings), 3),
    }


def pdf_figures(department):
    from cadre.accounts.models import User
    from cadre.indicators.exports import render_report_pdf
    from cadre.indicators.models import ExportStatus, IndicatorValue, ReportExport

    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    year = IndicatorValue.objects.order_by("-year").values_list("year", flat=True).first()
    figures = {}
    for label, level, code in [("département", "department", department), ("France", "national", "")]:
        export = ReportExport.objects.create(level=level, territory=code, year=year - 1, requested_by=admin)
        render_report_pdf(export.pk)
        export.refresh_from_db()
        assert export.status == ExportStatus.DONE, export.message
        figures[label] = {"seconds": round(export.seconds, 2), "bytes": len(export.content)}
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or observatory.DEFAULT_DATABASE_URL)
    parser.add_argument("--requests", type=int, default=100, help="requêtes mesurées par page")
    parser.add_argument("--warmup", type=int, default=10, help="requêtes de chauffe par page")
    parser.add_argument("--runs", type=int, default=1, help="reconstructions complètes (médiane)")
    parser.add_argument("--refreshes", type=int, default=20, help="rafraîchissements mesurés")
    parser.add_argument("--pages-only", action="store_true", help="les pages seulement (valeurs déjà calculées)")
    options = parser.parse_args()
    env = {**os.environ, "DATABASE_URL": options.database_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DJANGO_DEBUG", None)
    RESULTS.mkdir(parents=True, exist_ok=True)
    log("Migration et indicateurs par défaut…")
    foundation.manage(env, "migrate", "--no-input", "-v0")
    foundation.manage(env, "load_indicators")
    foundation.setup_django({**env, "DJANGO_ALLOWED_HOSTS": "127.0.0.1,testserver"})
    data = observatory.fixture()
    rebuilt = refreshed = None
    if not options.pages_only:
        log("Reconstruction complète, puis le socle SQL…")
        rebuilt = rebuild_figures(options.runs)
    log(f"Rafraîchissement après validation ({options.refreshes} fois)…")
    refreshed = refresh_figures(options.refreshes)
    year = refreshed["year"]
    department = foundation.DEPARTMENT
    pages = {
        "socle 1 : vue vide": ("/socle/vide/", None),
        "socle 2 : page vide": ("/socle/page-vide/", "session"),
        "tableau de bord (59)": (f"/indicateurs/?annee={year}&territoire=department:{department}", "session"),
        "tableau de bord France": (f"/indicateurs/?annee={year}&territoire=national:", "session"),
        "rapport (59)": (f"/indicateurs/rapport/?annee={year}&territoire=department:{department}", "session"),
        "rapport France": (f"/indicateurs/rapport/?annee={year}&territoire=national:", "session"),
    }
    floors = ["socle 1 : vue vide", "socle 2 : page vide"]
    queries = foundation.count_queries(data["user"], None, pages)
    port = foundation.free_port()
    server = None
    with open(RESULTS / "gunicorn-indicators.log", "w") as server_log:
        try:
            server = foundation.start_gunicorn(env, port, server_log)
            foundation.wait_until_up(server, port)
            session = foundation.Session("127.0.0.1", port)
            foundation.log_in(session)
            timed = foundation.time_pages(
                {name: (session, path) for name, (path, _) in pages.items()}, options.requests, options.warmup
            )
            results = {
                name: {"path": path, **timed[name], "queries": queries.get(name)} for name, (path, _) in pages.items()
            }
        finally:
            foundation.stop(server)
    table = foundation.report(results, floors)
    refresh_line = (
        f"{'rafraîchissement après une validation':<44} {refreshed['median_seconds']:>8.3f} {'':>8} {'':>8}  "
        f"{'oui' if refreshed['max_seconds'] < 1 else 'NON'} (< 1 s ; max {refreshed['max_seconds']:.3f} s)"
    )
    if options.pages_only:
        log(table)
        log(refresh_line)
        return
    log("PDF du rapport…")
    pdf = pdf_figures(department)

    log("")
    log(f"Pages : {options.requests} requêtes par page après {options.warmup} de chauffe, par tours, gunicorn -w 2.")
    log(table)
    log("")
    log(f"{'calcul':<44} {'s':>8} {'socle s':>8} {'rapport':>8}  cible")
    floor = rebuilt["floor_seconds"]
    lines = [
        (f"mêmes parts que le socle ({rebuilt['same_shares_indicators']} indicateurs)", "same_shares"),
        (f"reconstruction complète ({rebuilt['indicators']} ind., {rebuilt['values']} val.)", "rebuild"),
        ("reconstruction complète, rien n'a changé", "unchanged_rebuild"),
        ("écrire ces valeurs, sans rien calculer", "write_only"),
    ]
    for label, key in lines:
        seconds = rebuilt[f"{key}_seconds"]
        ratio = seconds / floor
        verdict = "oui" if ratio <= TARGET_FACTOR else "NON"
        log(f"{label:<44} {seconds:>8.2f} {floor:>8.2f} {ratio:>8.2f}  {verdict} (≤ {TARGET_FACTOR})")
    log(refresh_line)
    for label, figure in pdf.items():
        log(f"{'PDF du rapport, ' + label:<44} {figure['seconds']:>8.2f}   ({figure['bytes'] // 1024} Kio)")
    questions = ", ".join(rebuilt["floor_questions"])
    log(f"Socle : une requête SQL qui calcule les parts des questions oui / non ({questions}), sans rien écrire.")
    log("Les reconstructions, elles, écrivent leurs valeurs (depuis une table vide, sauf l'avant-dernière ligne) ;")
    log("la dernière ligne ne fait que copier les valeurs déjà calculées dans une table vide aux mêmes index.")
    output = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "rebuild": rebuilt,
        "refresh": refreshed,
        "pages": results,
        "pdf": pdf,
    }
    (RESULTS / "indicators.json").write_text(json.dumps(output, indent=2, ensure_ascii=False, default=str))
    log(f"Résultats : {RESULTS / 'indicators.json'}")


if __name__ == "__main__":
    main()
