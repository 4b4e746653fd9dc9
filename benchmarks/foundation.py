"""Foundation benchmark: page timings on national-scale data, as ratios to two floors.

Run by `make bench` (see benchmarks/README.md). Steps: (re)create a PostgreSQL database, migrate,
load the whole geography, `seed_demo --scale national`, create a Caf advisor of the Nord with an
API token, serve with gunicorn (2 workers, DEBUG off), then time from this separate process
sequential requests to each page, after a warm-up. Prints a table and writes
benchmarks/results/foundation.json. Not part of the test suite: timings are never asserted there.
"""

import argparse
import concurrent.futures
import http.client
import json
import math
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cadre_bench"
BENCH_EMAIL = "caf-bench@cadre.demo"
BENCH_PASSWORD = "demo-cadre"
DEPARTMENT = "59"  # the Nord: the most structures of any département
TARGET_FACTOR = 3  # target: p95 of a page ≤ 3 × p95 of the empty page in the layout


def log(message):
    print(message, flush=True)


# -- database and data ---------------------------------------------------------------------------


def recreate_database(url):
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"Nom de base inattendu : {name!r}")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def manage(env, *args):
    started = time.monotonic()
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)
    return time.monotonic() - started


def prepare(env, url):
    """Schema, geography, national data, fresh statistics; returns the seconds each step took."""
    import psycopg

    timings = {
        "migrate_s": round(manage(env, "migrate", "--no-input", "-v0"), 1),
        "load_territories_s": round(manage(env, "load_territories"), 1),
        "seed_national_s": round(manage(env, "seed_demo", "--scale", "national"), 1),
    }
    # As in production once autovacuum has run: the planner needs statistics on the bulk-loaded tables.
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
    timings["vacuum_analyze_s"] = round(time.monotonic() - started, 1)
    return timings


# The benchmarks sign in with a password alone: two-factor (required of partners' editors) is not what they time.
TWO_FACTOR_OFF = {"CADRE_TWO_FACTOR_REQUIRED": "false"}


def setup_django(env):
    os.environ.update({**env, **TWO_FACTOR_OFF})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def bench_fixture():
    """The Caf advisor of the Nord (created once), a fresh API token, a structure of page 2."""
    from cadre.accounts.models import ApiToken, Membership, Role, User
    from cadre.partners.models import Partner, PartnerKind
    from cadre.structures.models import Structure

    caf = Partner.objects.get(kind=PartnerKind.CAF, departments__code=DEPARTMENT)
    user, created = User.objects.get_or_create(
        email=BENCH_EMAIL, defaults={"first_name": "Conseillère", "last_name": "Mesures"}
    )
    if created:
        user.set_password(BENCH_PASSWORD)
        user.save()
        Membership.objects.create(user=user, partner=caf, role=Role.EDITOR)
    _, secret = ApiToken.issue(user, "banc de mesure")
    visible = Structure.objects.visible_to(user).filter(commune__department_id=DEPARTMENT)
    structure = visible.order_by("name")[25]
    return {
        "user": user,
        "token": secret,
        "structure_uuid": str(structure.uuid),
        "structure_name": structure.name,
        "structures": Structure.objects.count(),
        "structures_in_department": visible.count(),
    }


def count_queries(user, token, paths):
    """SQL queries per page, rendered in this process (same code, same database), once warm."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for name, (path, auth) in paths.items():
        client = Client()
        headers = {}
        if auth == "session":
            client.force_login(user)
        elif auth == "token":
            headers["Authorization"] = f"Bearer {token}"
        client.get(path, headers=headers)  # steady state: the user's scope is then in the cache
        with CaptureQueriesContext(connection) as context:
            response = client.get(path, headers=headers)
        counts[name] = len(context.captured_queries) if response.status_code == 200 else None
    return counts


# -- HTTP ----------------------------------------------------------------------------------------


class Session:
    """Sequential requests with a cookie jar (gunicorn's sync workers close every connection)."""

    def __init__(self, host, port, headers=None):
        self.host, self.port = host, port
        self.cookies = {}
        self.headers = headers or {}

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        all_headers = {**self.headers, **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value in ("", '""') or "max-age=0" in header.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        return response.status, response.headers, data

    def get(self, path):
        return self.request("GET", path)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


WORKERS = 2  # gunicorn's sync workers: each has its own in-memory cache


def start_gunicorn(env, port, log_file):
    server_env = {**env, **TWO_FACTOR_OFF, "DJANGO_DEBUG": "false", "DJANGO_ALLOWED_HOSTS": "127.0.0.1"}
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
    server_env["CADRE_BIND"] = f"127.0.0.1:{port}"
    server_env["WEB_CONCURRENCY"] = str(WORKERS)
    return subprocess.Popen(
        command, cwd=ROOT, env=server_env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_until_up(server, port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn s'est arrêté au démarrage : voir benchmarks/results/gunicorn.log")
        try:
            status, _, _ = Session("127.0.0.1", port).get("/socle/vide/")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn ne répond pas après {timeout} s")


def stop(server):
    if server is None or server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)


def log_in(session, email=BENCH_EMAIL, password=BENCH_PASSWORD):
    status, _, page = session.get("/compte/connexion/")
    if status != 200:
        raise SystemExit(f"page de connexion : HTTP {status}")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    token = match.group(1).decode() if match else session.cookies.get("csrftoken", "")
    body = urlencode({"username": email, "password": password, "csrfmiddlewaretoken": token})
    status, headers, _ = session.request(
        "POST",
        "/compte/connexion/",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": "http://127.0.0.1/compte/connexion/"},
    )
    for _ in range(5):  # follow redirects, bounded
        if status not in (301, 302, 303):
            break
        location = urlsplit(headers["Location"])
        status, headers, _ = session.get(location.path + (f"?{location.query}" if location.query else ""))
    if "sessionid" not in session.cookies:
        raise SystemExit("connexion refusée : pas de cookie de session")


def percentile(values, share):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def warm(session, path):
    """As many requests at once as there are workers, twice: a busy sync worker does not accept, so each
    worker gets one and fills its own caches; otherwise a worker that never served the page would put its
    first request among the timed ones. The status of the page."""
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        statuses = [status for _ in range(2) for status, _, _ in pool.map(session.get, [path] * WORKERS)]
    return statuses[-1] if len(set(statuses)) == 1 else next(s for s in statuses if s != 200)


def time_pages(pages, requests, warmup):
    """Time `requests` sequential requests to each page, in rounds (one request per page per round).

    Rounds rather than one page after the other: this machine's speed drifts over a minute, and a
    drift must not land on one page and miss the floor it is compared with.
    `pages`: {name: (session, path)}; returns {name: result}.
    """
    results, durations = {}, {}
    for name, (session, path) in pages.items():
        status = warm(session, path)
        if status != 200:
            results[name] = {"status": status, "samples": 0}
        else:
            durations[name], results[name] = [], {"statuses": set()}
    for round_number in range(warmup + requests):
        for name in durations:
            session, path = pages[name]
            started = time.perf_counter()
            status, _, _ = session.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            if round_number >= warmup:
                durations[name].append(elapsed)
                results[name]["statuses"].add(status)
    for name, values in durations.items():
        statuses = results[name].pop("statuses")
        results[name] = {
            "status": 200 if statuses == {200} else sorted(statuses),
            "samples": len(values),
            "median_ms": round(statistics.median(values), 2),
            "p95_ms": round(percentile(values, 0.95), 2),
            "max_ms": round(max(values), 2),
        }
    return results


# -- report --------------------------------------------------------------------------------------


def status_label(result):
    status = result["status"]
    if status == 200:
        return "ok"
    if status == 404:
        return "absente (404)"
    return f"HTTP {status}"


def report(results, floors):
    floor1, floor2 = (results[name].get("p95_ms") for name in floors)
    header = f"{'page':<22} {'état':<14} {'médiane ms':>10} {'p95 ms':>8} {'p95/socle1':>10} {'p95/socle2':>10} "
    header += f"{'requêtes SQL':>12}  cible"
    lines = [header, "-" * len(header)]
    for name, result in results.items():
        if result.get("samples"):
            ratio1 = result["p95_ms"] / floor1 if floor1 else None
            ratio2 = result["p95_ms"] / floor2 if floor2 else None
            result["p95_over_floor1"] = round(ratio1, 2) if ratio1 else None
            result["p95_over_floor2"] = round(ratio2, 2) if ratio2 else None
            if name not in floors and ratio2 is not None:
                result["meets_target"] = ratio2 <= TARGET_FACTOR
            target = {True: "oui", False: "NON"}.get(result.get("meets_target"), "")
            queries = "" if result.get("queries") is None else result["queries"]
            lines.append(
                f"{name:<22} {status_label(result):<14} {result['median_ms']:>10.1f} {result['p95_ms']:>8.1f} "
                f"{ratio1 or 0:>10.2f} {ratio2 or 0:>10.2f} {queries:>12}  {target}"
            )
        else:
            result["meets_target"] = None
            lines.append(f"{name:<22} {status_label(result):<14} {'—':>10} {'—':>8}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    parser.add_argument("--requests", type=int, default=200, help="requêtes mesurées par page")
    parser.add_argument("--warmup", type=int, default=10, help="requêtes de chauffe par page")
    parser.add_argument("--port", type=int, default=0, help="port de gunicorn (0 : un port libre)")
    parser.add_argument(
        "--reuse", action="store_true", help="garder la base existante (déjà préparée) au lieu de la recréer"
    )
    options = parser.parse_args()
    if not options.database_url.startswith("postgres"):
        raise SystemExit("Ce banc de mesure tourne sur PostgreSQL (DATABASE_URL=postgres://…).")
    env = {**os.environ, "DATABASE_URL": options.database_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DJANGO_DEBUG", None)
    RESULTS.mkdir(parents=True, exist_ok=True)

    timings = {}
    if not options.reuse:
        log(f"Base {urlsplit(options.database_url).path.lstrip('/')} recréée ; migration, géographie, données…")
        recreate_database(options.database_url)
        timings = prepare(env, options.database_url)
        log(f"Préparation : {timings}")
    setup_django({**env, "DJANGO_ALLOWED_HOSTS": "127.0.0.1,testserver"})
    fixture = bench_fixture()
    uuid = fixture["structure_uuid"]
    pages = {
        "socle 1 : vue vide": ("/socle/vide/", None),
        "socle 2 : page vide": ("/socle/page-vide/", "session"),
        "liste filtrée p. 2": (f"/structures/?department={DEPARTMENT}&kind=centre_social&page=2", "session"),
        "fiche structure": (f"/structures/{uuid}/", "session"),
        "accueil (ce qui attend)": ("/", "session"),
        "API liste p. 2": (f"/api/v1/structures?department={DEPARTMENT}&page=2", "token"),
    }
    floors = ["socle 1 : vue vide", "socle 2 : page vide"]
    queries = count_queries(fixture["user"], fixture["token"], pages)

    port = options.port or free_port()
    server = None
    with open(RESULTS / "gunicorn.log", "w") as server_log:
        try:
            server = start_gunicorn(env, port, server_log)
            wait_until_up(server, port)
            browser = Session("127.0.0.1", port)
            log_in(browser)
            script = Session("127.0.0.1", port, headers={"Authorization": f"Bearer {fixture['token']}"})
            for name, (path, _) in pages.items():
                log(f"Mesure : {name} ({path})")
            timed = time_pages(
                {name: (script if auth == "token" else browser, path) for name, (path, auth) in pages.items()},
                options.requests,
                options.warmup,
            )
            results = {
                name: {"path": path, **timed[name], "queries": queries.get(name)} for name, (path, _) in pages.items()
            }
        finally:
            stop(server)

    table = report(results, floors)
    log("")
    log(
        f"{fixture['structures']} structures ; utilisateur {BENCH_EMAIL} (Caf {DEPARTMENT}) : "
        f"{fixture['structures_in_department']} structures dans le {DEPARTMENT} ; fiche : {fixture['structure_name']}"
    )
    log(
        f"{options.requests} requêtes séquentielles par page après {options.warmup} de chauffe, "
        "par tours (une requête de chaque page par tour), gunicorn -w 2."
    )
    log(table)
    log(f"Cible : p95 ≤ {TARGET_FACTOR} × p95 de la page vide dans la mise en page (socle 2).")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    document = {
        "benchmark": "foundation",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit.stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "requests_per_page": options.requests,
        "warmup": options.warmup,
        "target": f"p95 <= {TARGET_FACTOR} x p95(socle 2)",
        "preparation": timings,
        "data": {k: v for k, v in fixture.items() if k not in {"user", "token"}},
        "pages": results,
    }
    (RESULTS / "foundation.json").write_text(json.dumps(document, ensure_ascii=False, indent=2))
    log(f"Résultats : {RESULTS / 'foundation.json'}")


if __name__ == "__main__":
    main()
