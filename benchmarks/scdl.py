"""SCDL import benchmark: a 100,000-row file (≈ 20 MB) against the national registry (≈ 4,000 structures).

Run by `make bench-scdl` (see benchmarks/README.md). Steps: (re)create a PostgreSQL database, migrate, load
the whole geography, `seed_demo --scale national`; build SCDL files as funders publish them (several
schema versions, years for dates, SIREN for SIRET, abbreviated names, beneficiaries that are not
structures; tests/scdl_files.py) with the answer of each row; run the import's check (reading, matching
with rapidfuzz, storing the rows) as the worker does, for an administrator who sees every structure; then
print the time of each step and the share of rows matched right, wrong and missed (the structure the import
gives, or proposes first, against the answer), and write benchmarks/results/scdl.json.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import foundation  # noqa: E402

ROOT = foundation.ROOT
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cadre_bench_scdl"
log = foundation.log


def main():
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="garder la base déjà remplie")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "false"}
    timings = {}
    if not args.reuse:
        foundation.recreate_database(url)
        timings.update(foundation.prepare(env, url))
        timings["load_funding_schemes_s"] = round(foundation.manage(env, "load_funding_schemes"), 1)
    foundation.setup_django(env)
    sys.path.insert(0, str(ROOT))

    from django.db.models import Count

    from cadre.accounts.models import User
    from cadre.funding import actions
    from cadre.funding.models import FundingScheme, RowStatus, SubsidyImport
    from cadre.partners.models import Partner, PartnerKind
    from cadre.structures.models import Structure
    from tests import scdl_files

    admin, _ = User.objects.get_or_create(email="admin-bench-scdl@cadre.demo", defaults={"is_staff": True})
    if not admin.is_administrator:
        admin.is_superuser = True
        admin.save()
    # A funder without a territory (names are matched among all 4,000 structures), and the Caf of the
    # Nord (names matched among its département's structures, as for a real Caf's file).
    national, _ = Partner.objects.get_or_create(
        name="Financeur national (banc SCDL)", defaults={"kind": PartnerKind.STATE, "siret": ""}
    )
    caf = Partner.objects.get(kind=PartnerKind.CAF, departments__code=foundation.DEPARTMENT)
    scheme = FundingScheme.objects.exclude(rule="caf_service").order_by("code").first()
    everyone = list(Structure.objects.values_list("pk", "name", "siret"))
    nord = list(
        Structure.objects.filter(commune__department_id=foundation.DEPARTMENT).values_list("pk", "name", "siret")
    )
    SubsidyImport.objects.filter(uploaded_by=admin).delete()
    results = []
    scenarios = [
        ("national", national, everyone, "2.1", ";", "utf-8", args.rows),
        ("Caf 59", caf, nord, "2.1", ";", "utf-8", 18_000),
        ("Caf 59", caf, nord, "1.0", ",", "utf-8", 18_000),
        ("Caf 59", caf, nord, "ancien", ";", "cp1252", 18_000),
    ]
    for label, funder, structures, version, delimiter, encoding, rows in scenarios:
        started = time.monotonic()
        built = scdl_files.build(
            structures, (funder.name, funder.siret), rows=rows, version=version, delimiter=delimiter, encoding=encoding
        )
        build_s = time.monotonic() - started
        started = time.monotonic()
        subsidy_import = SubsidyImport.objects.create(
            partner=funder, scheme=scheme, file_name=f"bench-{version}.csv", content=built.content, uploaded_by=admin
        )
        actions.check_subsidy_import(subsidy_import.pk)
        check_s = time.monotonic() - started
        subsidy_import.refresh_from_db()
        right = wrong = missed = 0
        found_rows = subsidy_import.rows.values_list("number", "status", "structure_id", "candidates")
        for number, status, structure_id, candidates in found_rows.iterator(chunk_size=5000):
            if status in (RowStatus.IDENTIFIER, RowStatus.ALREADY):
                found = structure_id
            elif status == RowStatus.NAME:
                found = candidates[0][0]
            else:
                found = None
            expected = built.answers[number]
            if found == expected:
                right += 1
            elif found is None:
                missed += 1
            else:
                wrong += 1
        by_status = dict(subsidy_import.rows.values_list("status").annotate(n=Count("pk")).order_by())
        results.append(
            {
                "funder": label,
                "version": version,
                "rows": rows,
                "megabytes": round(len(built.content) / 1024 / 1024, 1),
                "status": subsidy_import.status,
                "build_s": round(build_s, 1),
                "check_s": round(check_s, 1),
                "right": right,
                "wrong": wrong,
                "missed": missed,
                "by_status": by_status,
                "structures": len(structures),
            }
        )
        log(f"{label}, {version} : {rows} lignes, {results[-1]['megabytes']} Mo, vérifiées en {check_s:.1f} s")
    log("")
    log(
        f"{'financeur':10} {'version':8} {'lignes':>8} {'Mo':>5} {'vérif. (s)':>10} {'justes':>8} {'fausses':>8} "
        f"{'manquées':>9}"
    )
    for r in results:
        log(
            f"{r['funder']:10} {r['version']:8} {r['rows']:>8} {r['megabytes']:>5} {r['check_s']:>10} "
            f"{r['right'] / r['rows']:>8.1%} {r['wrong'] / r['rows']:>8.1%} {r['missed'] / r['rows']:>9.1%}"
        )
    foundation.RESULTS.mkdir(parents=True, exist_ok=True)
    (foundation.RESULTS / "scdl.json").write_text(
        json.dumps({"machine": platform.node(), "timings": timings, "results": results}, indent=2, default=str)
    )


if __name__ == "__main__":
    main()
