"""Indicators benchmark: full rebuild, refresh after one validation, dashboard and report pages, PDF.

Run by `make bench-indicators` (see benchmarks/README.md) on the database of the observatory
benchmark (`benchmarks/observatory.py` prepares it: ≈ 4,000 structures × 10 campaigns), which it
migrates and gives the default indicators. Measures
- the full rebuild of the default indicators for every territory and year against the floor: one
  hand-written SQL query computing the same figures with GROUP BY GROUPING SETS over the five
  territory levels (computed, not stored; FULL_FLOOR_SQL). A narrower floor computes the shares of
  the yes/no questions only (FLOOR_SQL), against Cadre computing those same shares. Both floors
  make the database compute every figure they select (count(row.*)): a count(*) over a grouped
  subquery lets PostgreSQL drop the aggregates nobody reads. Three rebuilds are timed: of those
  same shares only (from an empty table), of every default indicator (from an empty table), and of
  every default indicator again (nothing changed, so nothing is written);
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
SELECT count(shares.*) FROM (
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


# The complete floor, written by hand from cadre/indicators/definitions/default.toml: every default
# indicator's figures (value, numerator, denominator, count of structures, quartiles of the medians)
# for every territory and year, in one query: the answers pivoted per questionnaire, then one GROUP BY
# GROUPING SETS over the five levels. Computed, not stored. Shares count the structures that answered;
# a ratio adds up numerators and denominators over the structures that have both.
FULL_FLOOR_SQL = """
WITH w AS (
  SELECT c.year, d.region_id AS region, co.department_id AS department, NULLIF(co.epci_id, '') AS epci,
         co.code AS commune, st.kind, st.management, st.priority_area_status, st.served_population::numeric AS pop,
         max(a.number) FILTER (WHERE q.code = 'personnes_touchees_total') AS touchees,
         max(a.number) FILTER (WHERE q.code = 'personnes_0_10') AS p0,
         max(a.number) FILTER (WHERE q.code = 'personnes_11_25') AS p11,
         max(a.number) FILTER (WHERE q.code = 'personnes_26_59') AS p26,
         max(a.number) FILTER (WHERE q.code = 'personnes_60_plus') AS p60,
         max(a.number) FILTER (WHERE q.code = 'part_qpv') AS part_qpv,
         max(a.number) FILTER (WHERE q.code = 'familles_touchees') AS familles,
         max(a.number) FILTER (WHERE q.code = 'benevoles_activite') AS benevoles,
         max(a.number) FILTER (WHERE q.code = 'benevoles_gouvernance') AS benevoles_gouv,
         max(a.number) FILTER (WHERE q.code = 'ca_habitants') AS ca_habitants,
         max(a.number) FILTER (WHERE q.code = 'ca_membres') AS ca_membres,
         max(a.number) FILTER (WHERE q.code = 'comite_habitants') AS comite,
         max(a.number) FILTER (WHERE q.code = 'fonds_initiatives_habitants') AS fonds,
         max(a.number) FILTER (WHERE q.code = 'permanences_partenaires') AS permanences,
         max(a.number) FILTER (WHERE q.code = 'hors_murs_partenaires') AS hors_murs,
         max(a.number) FILTER (WHERE q.code = 'contrats_locaux_participation') AS contrats_participation,
         max(a.number) FILTER (WHERE q.code = 'projet_presente_partenaires') AS projet_presente,
         bool_or(a.codes ? 'ctg') FILTER (WHERE q.code = 'contrats_locaux') AS ctg,
         max(a.number) FILTER (WHERE q.code = 'partenaires_nombre') AS partenaires,
         max(a.number) FILTER (WHERE q.code = 'etp_total') AS etp,
         max(a.number) FILTER (WHERE q.code = 'salaries_cdi') AS cdi,
         max(a.number) FILTER (WHERE q.code = 'salaries_total') AS salaries,
         max(NULLIF(a.text, '')) FILTER (WHERE q.code = 'directeur_qualification') AS qualification,
         max(a.number) FILTER (WHERE q.code = 'difficultes_recrutement') AS recrutement,
         max(a.number) FILTER (WHERE q.code = 'budget_total') AS budget,
         max(a.number) FILTER (WHERE q.code = 'caf_prestation_service') AS caf_ps,
         max(a.number) FILTER (WHERE q.code = 'commune_intercommunalite') AS commune_epci,
         max(a.number) FILTER (WHERE q.code = 'etat') AS etat,
         max(a.number) FILTER (WHERE q.code = 'departement') AS dept,
         max(a.number) FILTER (WHERE q.code = 'participation_usagers') AS usagers,
         max(a.number) FILTER (WHERE q.code = 'resultat_exercice') AS resultat
  FROM observatory_submission s
  JOIN observatory_campaign c ON c.id = s.campaign_id
  JOIN structures_structure st ON st.id = s.structure_id
  JOIN territories_commune co ON co.code = st.commune_id
  JOIN territories_department d ON d.code = co.department_id
  LEFT JOIN (observatory_answer a JOIN observatory_question q ON q.id = a.question_id AND q.code IN (
    'personnes_touchees_total', 'personnes_0_10', 'personnes_11_25', 'personnes_26_59', 'personnes_60_plus',
    'part_qpv', 'familles_touchees', 'benevoles_activite', 'benevoles_gouvernance', 'ca_habitants', 'ca_membres',
    'comite_habitants', 'fonds_initiatives_habitants', 'permanences_partenaires', 'hors_murs_partenaires',
    'contrats_locaux_participation', 'projet_presente_partenaires', 'contrats_locaux', 'partenaires_nombre',
    'etp_total', 'salaries_cdi', 'salaries_total', 'directeur_qualification', 'difficultes_recrutement',
    'budget_total', 'caf_prestation_service', 'commune_intercommunalite', 'etat', 'departement',
    'participation_usagers', 'resultat_exercice'
  )) ON a.submission_id = s.id
  WHERE s.status = 'validated'
  GROUP BY s.id, c.year, d.region_id, co.department_id, co.epci_id, co.code, st.id
)
SELECT count(figures.*) FROM (
  SELECT year, region, department, epci, commune,
    count(*) AS structures_observees,
    count(*) FILTER (WHERE kind = 'centre_social') AS centres_sociaux_observes,
    count(*) FILTER (WHERE kind = 'evs') AS evs_observes,
    100.0 * count(*) FILTER (WHERE management = 'association') / NULLIF(count(management), 0) AS gestion_associative,
    100.0 * count(*) FILTER (WHERE priority_area_status = 'in_area') / NULLIF(count(priority_area_status), 0) AS qpv,
    sum(touchees) / NULLIF(count(touchees), 0) AS touchees_par_structure, count(touchees) AS n_touchees,
    sum(p0) AS p0, count(p0) AS n_p0, sum(p11) AS p11, count(p11) AS n_p11,
    sum(p26) AS p26, count(p26) AS n_p26, sum(p60) AS p60, count(p60) AS n_p60,
    percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY part_qpv) AS part_qpv, count(part_qpv) AS n_qpv,
    sum(familles) AS familles, count(familles) AS n_familles,
    sum(benevoles) / NULLIF(count(benevoles), 0) AS benevoles, count(benevoles) AS n_benevoles,
    sum(benevoles_gouv) / NULLIF(count(benevoles_gouv), 0) AS benevoles_gouv, count(benevoles_gouv) AS n_gouv,
    100 * sum(ca_habitants) FILTER (WHERE ca_membres IS NOT NULL)
      / NULLIF(sum(ca_membres) FILTER (WHERE ca_habitants IS NOT NULL), 0) AS habitants_ca,
    count(*) FILTER (WHERE ca_habitants IS NOT NULL AND ca_membres IS NOT NULL) AS n_ca,
    100.0 * count(*) FILTER (WHERE comite = 1) / NULLIF(count(comite), 0) AS comite, count(comite) AS n_comite,
    100.0 * count(*) FILTER (WHERE fonds = 1) / NULLIF(count(fonds), 0) AS fonds, count(fonds) AS n_fonds,
    100.0 * count(*) FILTER (WHERE permanences = 1) / NULLIF(count(permanences), 0) AS permanences,
    count(permanences) AS n_permanences,
    100.0 * count(*) FILTER (WHERE hors_murs = 1) / NULLIF(count(hors_murs), 0) AS hors_murs,
    count(hors_murs) AS n_hors_murs,
    100.0 * count(*) FILTER (WHERE contrats_participation = 1) / NULLIF(count(contrats_participation), 0) AS contrats,
    count(contrats_participation) AS n_contrats,
    100.0 * count(*) FILTER (WHERE projet_presente = 1) / NULLIF(count(projet_presente), 0) AS projet,
    count(projet_presente) AS n_projet,
    100.0 * count(*) FILTER (WHERE ctg) / NULLIF(count(ctg), 0) AS ctg, count(ctg) AS n_ctg,
    sum(partenaires) / NULLIF(count(partenaires), 0) AS partenaires, count(partenaires) AS n_partenaires,
    sum(etp) / NULLIF(count(etp), 0) AS etp, count(etp) AS n_etp,
    100 * sum(cdi) FILTER (WHERE salaries IS NOT NULL) / NULLIF(sum(salaries) FILTER (WHERE cdi IS NOT NULL), 0)
      AS cdi, count(*) FILTER (WHERE cdi IS NOT NULL AND salaries IS NOT NULL) AS n_cdi,
    sum(salaries) AS salaries, count(salaries) AS n_salaries,
    100.0 * count(*) FILTER (WHERE kind = 'centre_social' AND qualification IN ('niveau_6', 'niveau_7'))
      / NULLIF(count(qualification) FILTER (WHERE kind = 'centre_social'), 0) AS qualification,
    count(qualification) FILTER (WHERE kind = 'centre_social') AS n_qualification,
    100.0 * count(*) FILTER (WHERE recrutement = 1) / NULLIF(count(recrutement), 0) AS recrutement,
    count(recrutement) AS n_recrutement,
    percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY budget) FILTER (WHERE kind = 'centre_social')
      AS budget_cs, count(budget) FILTER (WHERE kind = 'centre_social') AS n_budget_cs,
    percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY budget) FILTER (WHERE kind = 'evs')
      AS budget_evs, count(budget) FILTER (WHERE kind = 'evs') AS n_budget_evs,
    100 * sum(caf_ps) FILTER (WHERE budget IS NOT NULL) / NULLIF(sum(budget) FILTER (WHERE caf_ps IS NOT NULL), 0)
      AS caf_ps, count(*) FILTER (WHERE caf_ps IS NOT NULL AND budget IS NOT NULL) AS n_caf_ps,
    100 * sum(commune_epci) FILTER (WHERE budget IS NOT NULL)
      / NULLIF(sum(budget) FILTER (WHERE commune_epci IS NOT NULL), 0) AS commune_epci,
    count(*) FILTER (WHERE commune_epci IS NOT NULL AND budget IS NOT NULL) AS n_commune_epci,
    100 * sum(etat) FILTER (WHERE budget IS NOT NULL) / NULLIF(sum(budget) FILTER (WHERE etat IS NOT NULL), 0)
      AS etat, count(*) FILTER (WHERE etat IS NOT NULL AND budget IS NOT NULL) AS n_etat,
    100 * sum(dept) FILTER (WHERE budget IS NOT NULL) / NULLIF(sum(budget) FILTER (WHERE dept IS NOT NULL), 0)
      AS dept, count(*) FILTER (WHERE dept IS NOT NULL AND budget IS NOT NULL) AS n_dept,
    100 * sum(usagers) FILTER (WHERE budget IS NOT NULL) / NULLIF(sum(budget) FILTER (WHERE usagers IS NOT NULL), 0)
      AS usagers, count(*) FILTER (WHERE usagers IS NOT NULL AND budget IS NOT NULL) AS n_usagers,
    sum(budget) FILTER (WHERE pop IS NOT NULL) / NULLIF(sum(pop) FILTER (WHERE budget IS NOT NULL), 0)
      AS euros_par_habitant, count(*) FILTER (WHERE budget IS NOT NULL AND pop IS NOT NULL) AS n_habitant,
    100.0 * count(*) FILTER (WHERE resultat < 0) / NULLIF(count(resultat), 0) AS resultat_negatif,
    count(resultat) AS n_resultat
  FROM w
  GROUP BY GROUPING SETS ((year), (year, region), (year, department), (year, epci), (year, commune))
) AS figures
"""
FULL_FLOOR_INDICATORS = 37  # the default set it was written from: checked against the definitions when run


def best_of(runs, work):
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), result


def rebuild_figures(runs):
    from django.conf import settings
    from django.db import connection, transaction

    from cadre.indicators.compute import rebuild
    from cadre.indicators.models import Indicator, IndicatorValue, Operator

    shares = sorted(
        {
            code
            for i in Indicator.objects.current().filter(kind="share", operator=Operator.YES)
            for code in i.question_codes()
        }
    )

    def floor(query, params):
        # With the engine's own settings (sql.compute): no JIT, the same memory for sorts and hashes.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute(query, params)
            return cursor.fetchone()[0]

    floor_s, floor_rows = best_of(runs, lambda: floor(FLOOR_SQL, [shares]))
    full_floor_s, full_floor_rows = best_of(runs, lambda: floor(FULL_FLOOR_SQL, None))

    current = list(Indicator.objects.current())
    same = [i.pk for i in current if i.kind == "share" and i.operator == Operator.YES]

    def emptied():
        # Truly empty, and the emptying written out: the rebuild timed pays for its own writes only.
        table = connection.ops.quote_name(IndicatorValue._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table}")
            cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("CHECKPOINT")

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
    if len(current) != FULL_FLOOR_INDICATORS:
        log(
            f"Attention : le socle complet est écrit pour {FULL_FLOOR_INDICATORS} indicateurs, "
            f"il y en a {len(current)}."
        )
    return {
        "workers": settings.CADRE_INDICATOR_WORKERS,
        "full_floor_seconds": round(full_floor_s, 2),
        "full_floor_rows": full_floor_rows,
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
        "ratio": round(rebuild_s / full_floor_s, 2),
        "unchanged_ratio": round(again_s / full_floor_s, 2),
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
    floor, full_floor = rebuilt["floor_seconds"], rebuilt["full_floor_seconds"]
    lines = [
        (f"socle : les parts oui / non seules ({len(rebuilt['floor_questions'])} questions)", "floor", floor),
        (f"mêmes parts, par Cadre ({rebuilt['same_shares_indicators']} indicateurs)", "same_shares", floor),
        (f"socle complet : les {FULL_FLOOR_INDICATORS} indicateurs par défaut", "full_floor", full_floor),
        (f"reconstruction complète ({rebuilt['indicators']} ind., {rebuilt['values']} val.)", "rebuild", full_floor),
        ("reconstruction complète, rien n'a changé", "unchanged_rebuild", full_floor),
        ("écrire ces valeurs, sans rien calculer", "write_only", full_floor),
    ]
    for label, key, against in lines:
        seconds = rebuilt[f"{key}_seconds"]
        ratio = seconds / against
        verdict = "oui" if ratio <= TARGET_FACTOR else "NON"
        log(f"{label:<44} {seconds:>8.2f} {against:>8.2f} {ratio:>8.2f}  {verdict} (≤ {TARGET_FACTOR})")
    log(refresh_line)
    for label, figure in pdf.items():
        log(f"{'PDF du rapport, ' + label:<44} {figure['seconds']:>8.2f}   ({figure['bytes'] // 1024} Kio)")
    questions = ", ".join(rebuilt["floor_questions"])
    log("Socles : une requête SQL écrite à la main, GROUP BY GROUPING SETS sur les cinq niveaux, sans rien écrire ;")
    log(f"le premier calcule les parts des questions oui / non ({questions}), le complet tous les chiffres des")
    log("indicateurs par défaut (valeurs, numérateurs, dénominateurs, effectifs, quartiles des médianes).")
    log("Les reconstructions, elles, écrivent leurs valeurs (depuis une table vide, sauf l'avant-dernière ligne),")
    log(
        f"{rebuilt['workers']} années à la fois ; la dernière ligne copie les valeurs déjà calculées dans une "
        "table vide."
    )
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
