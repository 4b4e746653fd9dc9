"""Rebuild the compact geography shipped with Cadre from ../shared/reference.

Run from the repository root: python cadre/territories/data/build.py PATH/TO/reference
Keeps only the columns Cadre uses, gzip-compressed. Origin and licence: see README.md here.
"""

import csv
import gzip
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SELECTIONS = {
    "regions.csv": ["code", "nom"],
    "departements.csv": ["code", "nom", "region"],
    "epci.csv": ["code", "nom", "type"],
    "communes.csv": [
        "code",
        "nom",
        "type",
        "departement",
        "epci",
        "population",
        "codes_postaux",
        "commune_parente",
        "latitude",
        "longitude",
    ],
    "qpv2024.csv": ["code", "nom", "departement", "communes_cog2026"],
}


def build(reference):
    for name, columns in SELECTIONS.items():
        with open(reference / name, encoding="utf-8", newline="") as source:
            rows = list(csv.DictReader(source))
        target = HERE / (name + ".gz")
        # mtime=0 keeps the archive byte-identical between rebuilds.
        with gzip.GzipFile(target, "wb", mtime=0) as raw, io.TextIOWrapper(raw, "utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow([row[c] for c in columns])
        print(f"{target.name}: {len(rows)} rows")


if __name__ == "__main__":
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference"))
