"""Pages benchmark: every page of the role × URL matrix, at national scale, against the empty layout page.

Run by `make bench-pages` (see benchmarks/README.md). Steps: (re)create a PostgreSQL database, migrate,
load the whole geography, `seed_demo --scale national_demo` (≈ 4,000 structures, with the demo partnership
and its cast in the Rhône and the Bouches-du-Rhône), `seed_observatory --campaigns N`, the indicators;
then the matrix's objects (tests/test_access.py `build_objects`, the same structure A, agreements…), and for
each GET row of the matrix one role that may open it (a Caf advisor first, then the structure…):
- its SQL queries, counted in this process (same code, same database), once the user's scope is cached;
- its p95 under gunicorn (2 workers), timed in rounds with the empty layout page (`/socle/page-vide/`).
Prints a table (worst ratio first) and writes benchmarks/results/pages.json. Timings are never asserted in tests.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import foundation  # noqa: E402 — the shared machinery: database, gunicorn, sessions, timing in rounds

ROOT = foundation.ROOT
RESULTS = foundation.RESULTS
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cadre_bench_pages"
TARGET_FACTOR = 3
FLOOR = "core:empty_layout"
# Who opens a page, in this order of preference: the users with the most data in their scope first.
ROLE_PREFERENCE = ["caf69", "federation69", "structure_a", "city", "admin", "caf13", "structure_b", "anonymous"]
log = foundation.log


def prepare(env, url, campaigns):
    import psycopg

    steps = [
        ("migrate", "--no-input", "-v0"),
        ("load_territories",),
        ("load_questionnaire",),
        ("load_indicators",),
        ("load_funding_schemes",),
        ("seed_demo", "--scale", "national_demo"),
        ("seed_observatory", "--campaigns", str(campaigns), "--replace"),
        ("rebuild_indicators",),
    ]
    timings = {f"{step[0]}_s": round(foundation.manage(env, *step), 1) for step in steps}
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
    timings["vacuum_analyze_s"] = round(time.monotonic() - started, 1)
    return timings


def matrix_pages():
    """{url name: (role, path)} for every GET row of the matrix, with the objects it needs; and the misses."""
    from tests import test_access

    objects = test_access.build_objects()
    pages, skipped = {}, {}
    for name in sorted(test_access.MATRIX):
        method, build, expected = test_access.MATRIX[name]
        role = next((r for r in ROLE_PREFERENCE if expected.get(r) == 200), None)
        if method != "get" or role is None:
            continue
        try:
            pages[name] = (role, build(objects))
        except Exception as error:  # an object the national data lacks: told, not hidden
            skipped[name] = f"{type(error).__name__}: {error}"
    return pages, skipped


def count_queries(pages):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cadre.accounts.models import User
    from tests import test_access

    clients, counts = {}, {}
    for name, (role, path) in pages.items():
        if role not in clients:
            clients[role] = Client()
            if role != "anonymous":
                clients[role].force_login(User.objects.get(email=test_access.EMAILS[role]))
        client = clients[role]
        client.get(path)  # steady state: the user's scope is then in the cache
        with CaptureQueriesContext(connection) as context:
            response = client.get(path)
        counts[name] = (len(context.captured_queries), response.status_code, response.get("Content-Type", ""))
    return counts


def table(results, floor_ms):
    header = f"{'page':<44} {'rôle':<13} {'p95 ms':>8} {'× socle':>8} {'SQL':>5}  cible"
    lines = [header, "-" * len(header)]
    ordered = sorted(results.items(), key=lambda item: -(item[1].get("ratio") or 0))
    for name, result in ordered:
        if not result.get("samples"):
            lines.append(f"{name:<44} {result['role']:<13} {'HTTP ' + str(result['status']):>8}")
            continue
        target = "oui" if result["ratio"] <= TARGET_FACTOR else "NON"
        lines.append(
            f"{name:<44} {result['role']:<13} {result['p95_ms']:>8.1f} {result['ratio']:>8.2f} "
            f"{result['queries']:>5}  {target}"
        )
    met = sum(1 for r in results.values() if r.get("samples") and r["ratio"] <= TARGET_FACTOR)
    timed = sum(1 for r in results.values() if r.get("samples"))
    lines.append(f"{met} pages sur {timed} dans la cible (p95 ≤ {TARGET_FACTOR} × socle {floor_ms:.1f} ms).")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    parser.add_argument("--campaigns", type=int, default=3, help="années de campagnes de l'observatoire à créer")
    parser.add_argument("--requests", type=int, default=30, help="requêtes mesurées par page")
    parser.add_argument("--warmup", type=int, default=3, help="requêtes de chauffe par page")
    parser.add_argument("--reuse", action="store_true", help="garder la base déjà préparée au lieu de la recréer")
    parser.add_argument("--only", default="", help="seulement les pages dont le nom contient ce texte")
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
    from cadre.demo import cast
    from cadre.structures.models import Structure
    from tests import test_access

    pages, skipped = matrix_pages()
    if options.only:
        pages = {k: v for k, v in pages.items() if options.only in k or k == FLOOR}
    queries = count_queries(pages)

    port = foundation.free_port()
    server = None
    with open(RESULTS / "gunicorn-pages.log", "w") as server_log:
        try:
            server = foundation.start_gunicorn(env, port, server_log)
            foundation.wait_until_up(server, port)
            sessions = {"anonymous": foundation.Session("127.0.0.1", port)}
            for role in {role for role, _ in pages.values()} - {"anonymous"}:
                sessions[role] = foundation.Session("127.0.0.1", port)
                foundation.log_in(sessions[role], test_access.EMAILS[role], cast.PASSWORD)
            timed = foundation.time_pages(
                {name: (sessions[role], path) for name, (role, path) in pages.items()}, options.requests, options.warmup
            )
        finally:
            foundation.stop(server)
    floor_ms = timed[FLOOR]["p95_ms"]
    results = {}
    for name, (role, path) in pages.items():
        count, status, content_type = queries[name]
        result = {"role": role, "path": path, **timed[name], "queries": count, "content_type": content_type}
        if result.get("samples"):
            result["ratio"] = round(result["p95_ms"] / floor_ms, 2)
        results[name] = result

    log("")
    log(
        f"{Structure.objects.count()} structures ; {options.requests} requêtes par page "
        f"après {options.warmup} de chauffe."
    )
    log(table(results, floor_ms))
    for name, reason in skipped.items():
        log(f"non mesurée : {name} ({reason})")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    document = {
        "benchmark": "pages",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit.stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "preparation": timings,
        "floor_p95_ms": floor_ms,
        "pages": results,
        "skipped": skipped,
    }
    (RESULTS / "pages.json").write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str))
    log(f"Résultats : {RESULTS / 'pages.json'}")


if __name__ == "__main__":
    main()
