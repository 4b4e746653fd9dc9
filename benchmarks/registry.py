"""Registry import benchmark: a file of 2,000 structures (approval, contact, QPV) checked and applied on
PostgreSQL, beside the national registry (≈ 4,000 structures).

Run by `make bench-registry` (see benchmarks/README.md). Steps: (re)create a PostgreSQL database, migrate,
load the whole geography, `seed_demo --scale national` (skipped with --reuse); build an XLSX file of 2,000
new structures on real communes of the Nord, a quarter of them in a QPV of their commune, each with an
approval and a contact; time its dry run (reading, checking, storing the report) and its application (bulk
writes with their history, in one transaction); then the same rows as a cp1252 « ; » CSV with every name
changed (2,000 updates, each with its before → after) — dry run and application again. Prints the times and
writes benchmarks/results/registry.json.
"""

import argparse
import io
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import foundation  # noqa: E402

ROOT = foundation.ROOT
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cadre_bench_registry"
log = foundation.log


def siret(number):
    from stdnum import luhn

    siren = f"9{number:07d}"
    siren += luhn.calc_check_digit(siren)
    body = siren + "0001"
    return body + luhn.calc_check_digit(body)


def build_rows(rows, renamed=False):
    from cadre.exchanges import registry
    from cadre.territories.models import Commune

    communes = list(
        Commune.objects.filter(department_id=foundation.DEPARTMENT, kind=Commune.Kind.COMMUNE)
        .prefetch_related("priority_areas")
        .order_by("code")
    )
    keys = [c.key for c in registry.STRUCTURE_COLUMNS]
    table = []
    for number in range(rows):
        commune = communes[number % len(communes)]
        areas = list(commune.priority_areas.all())
        in_area = number % 4 == 0 and areas
        values = {
            "siret": siret(number),
            "name": f"{'Centre social' if number % 2 else 'Espace de vie sociale'} n° {number}"
            + (" (renommé)" if renamed else ""),
            "kind": "Centre social" if number % 2 else "Espace de vie sociale",
            "management": "Associatif",
            "manager_name": f"Association n° {number}",
            "commune": commune.code,
            "postal_code": commune.postal_code_list[0] if commune.postal_code_list else "",
            "priority_area_status": "Implantée dans un QPV" if in_area else "Sans lien avec un QPV",
            "priority_areas": areas[0].code if in_area else "",
            "email": f"contact{number}@exemple.fr",
            "approval_starts": "01/01/2025",
            "approval_ends": "31/12/2028",
            "contact_name": f"Directrice n° {number}",
            "contact_position": "directrice",
        }
        table.append([values.get(key, "") for key in keys])
    return [c.header for c in registry.STRUCTURE_COLUMNS], table


def xlsx(headers, rows):
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Structures")
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_cp1252(headers, rows):
    return "\r\n".join(";".join(str(v) for v in row) for row in [headers, *rows]).encode("cp1252")


def main():
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="garder la base déjà remplie")
    parser.add_argument("--rows", type=int, default=2_000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "false"}
    timings = {}
    if not args.reuse:
        foundation.recreate_database(url)
        timings.update(foundation.prepare(env, url))
    foundation.setup_django(env)
    sys.path.insert(0, str(ROOT))

    from cadre.accounts.models import User
    from cadre.exchanges import registry
    from cadre.exchanges.actions import apply_registry_import, record_registry_import
    from cadre.exchanges.models import RegistryImport
    from cadre.structures.models import Structure

    admin, _ = User.objects.get_or_create(email="admin-bench-registry@cadre.demo", defaults={"is_superuser": True})
    RegistryImport.objects.filter(uploaded_by=admin).delete()
    Structure.objects.filter(siret__in=[siret(n) for n in range(args.rows)]).delete()
    results = []
    scenarios = [("création", "XLSX", False, xlsx), ("mise à jour", "CSV cp1252 ;", True, csv_cp1252)]
    for label, fmt, renamed, write in scenarios:
        content = write(*build_rows(args.rows, renamed))
        started = time.monotonic()
        checked = record_registry_import(registry.STRUCTURES, admin, f"bench.{fmt[:3].lower()}", content)
        check_s = time.monotonic() - started
        if not checked.is_ready:
            raise SystemExit(f"Le fichier du banc a des erreurs : {checked.report['errors'][:3]}")
        started = time.monotonic()
        apply_registry_import(checked, actor=admin)
        apply_s = time.monotonic() - started
        results.append(
            {
                "scenario": label,
                "format": fmt,
                "rows": args.rows,
                "kilobytes": round(len(content) / 1024),
                "created": checked.created_count,
                "updated": checked.updated_count,
                "changes": checked.report["change_count"],
                "dry_run_s": round(check_s, 2),
                "apply_s": round(apply_s, 2),
            }
        )
        log(f"{label} ({fmt}) : {args.rows} lignes, vérifiées en {check_s:.2f} s, appliquées en {apply_s:.2f} s")
    log("")
    log(f"{'scénario':12} {'format':14} {'lignes':>7} {'Ko':>6} {'vérif. (s)':>10} {'écriture (s)':>12}")
    for r in results:
        log(
            f"{r['scenario']:12} {r['format']:14} {r['rows']:>7} {r['kilobytes']:>6} {r['dry_run_s']:>10} "
            f"{r['apply_s']:>12}"
        )
    foundation.RESULTS.mkdir(parents=True, exist_ok=True)
    (foundation.RESULTS / "registry.json").write_text(
        json.dumps({"machine": platform.node(), "timings": timings, "results": results}, indent=2, default=str)
    )


if __name__ == "__main__":
    main()
