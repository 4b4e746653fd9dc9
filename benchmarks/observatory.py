"""Observatory benchmark: the correspondant's dashboard, and the XLSX export and import of a national campaign.

Run by `make bench-observatory` (see benchmarks/README.md). Steps: (re)create a PostgreSQL database,
migrate, load the whole geography, `seed_demo --scale national`, `seed_observatory --campaigns 10`
(≈ 4,000 submissions × ≈ 110 answers × 10 years), then
- pages, served by gunicorn (2 workers) and timed in rounds like the foundation benchmark, against
  the empty page in the layout;
- the XLSX export of the latest campaign (every structure), against openpyxl writing the same
  cells with no processing;
- the XLSX import of a full national file into a new campaign (dry run, then apply), against
  openpyxl reading the same file with no processing.
Prints a table and writes benchmarks/results/observatory.json. Timings are never asserted in tests.
"""

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import foundation  # noqa: E402 — the shared machinery: database, gunicorn, sessions, timing in rounds

ROOT = foundation.ROOT
RESULTS = foundation.RESULTS
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cadre_bench_observatory"
DEPARTMENT = foundation.DEPARTMENT
TARGET_FACTOR = 3
log = foundation.log


def prepare(env, url, campaigns):
    import psycopg

    timings = {
        "migrate_s": round(foundation.manage(env, "migrate", "--no-input", "-v0"), 1),
        "load_territories_s": round(foundation.manage(env, "load_territories"), 1),
        "seed_national_s": round(foundation.manage(env, "seed_demo", "--scale", "national"), 1),
        "load_questionnaire_s": round(foundation.manage(env, "load_questionnaire"), 1),
        "seed_observatory_s": round(
            foundation.manage(env, "seed_observatory", "--campaigns", str(campaigns), "--replace"), 1
        ),
    }
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
    timings["vacuum_analyze_s"] = round(time.monotonic() - started, 1)
    return timings


def fixture():
    """The latest campaign, a Caf 59 correspondant of it (the bench user), a submission of the Nord."""
    from cadre.accounts.models import User
    from cadre.observatory.models import Answer, Campaign, Correspondent, Submission

    foundation.bench_fixture()  # the bench user, a Caf advisor of the Nord
    user = User.objects.get(email=foundation.BENCH_EMAIL)
    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    campaign = Campaign.objects.exclude(title__startswith="Banc").order_by("-year").first()
    Correspondent.objects.get_or_create(campaign=campaign, user=user, department_id=DEPARTMENT)
    submission = (
        Submission.objects.filter(campaign=campaign, structure__commune__department_id=DEPARTMENT)
        .order_by("structure__name")
        .first()
    )
    return {
        "user": user,
        "admin": admin,
        "campaign": campaign,
        "submission": submission,
        "campaigns": Campaign.objects.count(),
        "submissions": Submission.objects.count(),
        "answers": Answer.objects.count(),
        "campaign_submissions": campaign.submissions.count(),
        "department_submissions": campaign.submissions.filter(structure__commune__department_id=DEPARTMENT).count(),
    }


def best_of(runs, work):
    """(median seconds of `runs` calls of `work`, the last result)."""
    durations, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), result


def write_floor(headers, rows):
    """openpyxl writing the same cells, in write-only mode, with no processing: the export's floor."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Réponses")
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def read_floor(content):
    """openpyxl reading every cell of the file, in read-only mode, with no processing: the import's floor."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    count = 0
    for row in workbook.worksheets[0].iter_rows(values_only=True):
        count += len(row)
    workbook.close()
    return count


def import_file(source, target, admin):
    """The export of `source` (validated answers) kept to the structures that `target` asks: a full file."""
    from openpyxl import Workbook, load_workbook

    from cadre.exchanges.observatory import export_xlsx

    wanted = {str(u) for u in target.submissions.values_list("structure__uuid", flat=True)}
    workbook = load_workbook(io.BytesIO(export_xlsx(source, admin)), read_only=True)
    out = Workbook(write_only=True)
    sheet = out.create_sheet("Réponses")
    for number, row in enumerate(workbook.worksheets[0].iter_rows(values_only=True)):
        if number == 0 or str(row[0]) in wanted:
            sheet.append(row)
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


def bench_campaign(source, admin):
    """A fresh campaign after the latest, with a not-started submission for each structure of `source`."""
    import datetime

    from django.utils import timezone

    from cadre.observatory.models import Campaign, Submission

    if Campaign.objects.filter(title__startswith="Banc").delete()[0]:
        # The previous run's answers are dead rows until autovacuum passes: clear them, as it would.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) observatory_answer")
    today = timezone.localdate()
    campaign = Campaign.objects.create(
        year=source.year + 1,
        title="Banc de mesure : import national",
        questionnaire=source.questionnaire,
        opens_on=today - datetime.timedelta(days=1),
        closes_on=today + datetime.timedelta(days=60),
        opened_at=timezone.now(),
    )
    Submission.objects.bulk_create(
        [
            Submission(campaign=campaign, structure_id=s)
            for s in source.submissions.values_list("structure_id", flat=True)
        ],
        batch_size=2000,
    )
    return campaign


def spreadsheets(data, runs):
    from cadre.exchanges.actions import apply_import, record_import
    from cadre.exchanges.models import AnswerImport
    from cadre.exchanges.observatory import answer_table, export_xlsx
    from cadre.observatory.models import Answer

    admin, campaign = data["admin"], data["campaign"]
    results = {}
    log(f"Export XLSX de {campaign} ({data['campaign_submissions']} structures), {runs} fois…")
    export_s, content = best_of(runs, lambda: export_xlsx(campaign, admin))
    headers, rows = answer_table(campaign, admin, "xlsx")
    rows = [list(row) for row in rows]
    floor_s, _ = best_of(runs, lambda: write_floor(headers, rows))
    results["export"] = {
        "seconds": round(export_s, 2),
        "floor_seconds": round(floor_s, 2),
        "ratio": round(export_s / floor_s, 2),
        "rows": len(rows),
        "columns": len(headers),
        "bytes": len(content),
    }

    target = bench_campaign(campaign, admin)
    upload = import_file(campaign, target, admin)
    log(f"Import XLSX dans une campagne neuve ({target.submissions.count()} questionnaires)…")
    read_s, cells = best_of(runs, lambda: read_floor(upload))
    # The dry run as an upload runs it: every cell checked, then the import stored with what it will write.
    dry_s, answer_import = best_of(runs, lambda: record_import(target, admin, "national.xlsx", upload))
    if not answer_import.is_ready:
        raise SystemExit(
            f"Le fichier national est refusé : {answer_import.error_count} erreurs, par exemple "
            f"{answer_import.report['errors'][:3]}"
        )
    AnswerImport.objects.filter(campaign=target).exclude(pk=answer_import.pk).delete()
    started = time.perf_counter()
    apply_import(answer_import, actor=admin)
    apply_s = time.perf_counter() - started
    written = Answer.objects.filter(submission__campaign=target).count()
    results["import"] = {
        "dry_run_seconds": round(dry_s, 2),
        "apply_seconds": round(apply_s, 2),
        "floor_seconds": round(read_s, 2),
        "dry_run_ratio": round(dry_s / read_s, 2),
        "apply_ratio": round(apply_s / read_s, 2),
        "cells": cells,
        "answers_written": written,
        "bytes": len(upload),
    }
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    parser.add_argument("--campaigns", type=int, default=10, help="années de campagnes à créer")
    parser.add_argument("--requests", type=int, default=200, help="requêtes mesurées par page")
    parser.add_argument("--warmup", type=int, default=10, help="requêtes de chauffe par page")
    parser.add_argument("--runs", type=int, default=3, help="exécutions de l'export et de l'essai d'import (médiane)")
    parser.add_argument("--reuse", action="store_true", help="garder la base déjà préparée au lieu de la recréer")
    options = parser.parse_args()
    if not options.database_url.startswith("postgres"):
        raise SystemExit("Ce banc de mesure tourne sur PostgreSQL (DATABASE_URL=postgres://…).")
    env = {**os.environ, "DATABASE_URL": options.database_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DJANGO_DEBUG", None)
    RESULTS.mkdir(parents=True, exist_ok=True)

    timings = {}
    if not options.reuse:
        log(f"Base {urlsplit(options.database_url).path.lstrip('/')} recréée ; migration, géographie, données…")
        foundation.recreate_database(options.database_url)
        timings = prepare(env, options.database_url, options.campaigns)
        log(f"Préparation : {timings}")
    foundation.setup_django({**env, "DJANGO_ALLOWED_HOSTS": "127.0.0.1,testserver"})
    data = fixture()
    campaign, submission = data["campaign"], data["submission"]
    pages = {
        "socle 1 : vue vide": ("/socle/vide/", None),
        "socle 2 : page vide": ("/socle/page-vide/", "session"),
        "tableau de bord (59)": (f"/observatoire/campagnes/{campaign.uuid}/", "session"),
        "tableau de bord France": (f"/observatoire/campagnes/{campaign.uuid}/?departement=", "admin"),
        "saisie : vue d'ensemble": (f"/observatoire/saisies/{submission.uuid}/", "session"),
        "saisie : une rubrique": (f"/observatoire/saisies/{submission.uuid}/rubriques/finances/", "session"),
    }
    floors = ["socle 1 : vue vide", "socle 2 : page vide"]
    queries = foundation.count_queries(data["user"], None, {k: v for k, v in pages.items() if v[1] != "admin"})
    queries.update(
        foundation.count_queries(
            data["admin"], None, {k: (p, "session") for k, (p, a) in pages.items() if a == "admin"}
        )
    )

    port = foundation.free_port()
    server = None
    with open(RESULTS / "gunicorn-observatory.log", "w") as server_log:
        try:
            server = foundation.start_gunicorn(env, port, server_log)
            foundation.wait_until_up(server, port)
            correspondent = foundation.Session("127.0.0.1", port)
            foundation.log_in(correspondent)
            administrator = foundation.Session("127.0.0.1", port)
            foundation.log_in(administrator, data["admin"].email)
            sessions = {"session": correspondent, "admin": administrator, None: correspondent}
            timed = foundation.time_pages(
                {name: (sessions[auth], path) for name, (path, auth) in pages.items()}, options.requests, options.warmup
            )
            results = {
                name: {"path": path, **timed[name], "queries": queries.get(name)} for name, (path, _) in pages.items()
            }
        finally:
            foundation.stop(server)
    table = foundation.report(results, floors)
    sheets = spreadsheets(data, options.runs)

    log("")
    log(
        f"{data['campaigns']} campagnes, {data['submissions']} questionnaires, {data['answers']} réponses ; "
        f"campagne mesurée : {campaign} ({data['campaign_submissions']} questionnaires, "
        f"{data['department_submissions']} dans le {DEPARTMENT})."
    )
    log(f"Pages : {options.requests} requêtes par page après {options.warmup} de chauffe, par tours, gunicorn -w 2.")
    log(table)
    export, imported = sheets["export"], sheets["import"]
    log("")
    log(f"{'tableur':<34} {'s':>8} {'socle s':>8} {'rapport':>8}  cible (≤ {TARGET_FACTOR})")
    for label, seconds, floor, ratio in [
        (
            f"export XLSX ({export['rows']} × {export['columns']})",
            export["seconds"],
            export["floor_seconds"],
            export["ratio"],
        ),
        (
            "import XLSX : essai à blanc",
            imported["dry_run_seconds"],
            imported["floor_seconds"],
            imported["dry_run_ratio"],
        ),
        (
            f"import XLSX : écriture ({imported['answers_written']} rép.)",
            imported["apply_seconds"],
            imported["floor_seconds"],
            imported["apply_ratio"],
        ),
    ]:
        log(f"{label:<34} {seconds:>8.2f} {floor:>8.2f} {ratio:>8.2f}  {'oui' if ratio <= TARGET_FACTOR else 'NON'}")
    log("Socles : openpyxl seul qui écrit (export) ou lit (import) les mêmes cellules, sans traitement.")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    document = {
        "benchmark": "observatory",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit.stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "preparation": timings,
        "data": {k: v for k, v in data.items() if isinstance(v, int)},
        "pages": results,
        "spreadsheets": sheets,
    }
    (RESULTS / "observatory.json").write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str))
    log(f"Résultats : {RESULTS / 'observatory.json'}")


if __name__ == "__main__":
    main()
