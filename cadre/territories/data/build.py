"""Rebuild the compact geography shipped with Cadre from ../shared/reference.

Run from the repository root: python cadre/territories/data/build.py PATH/TO/reference
Keeps only the columns Cadre uses, gzip-compressed, and the département contours projected for
the SVG maps (cadre/territories/maps.py). Origin and licence: see README.md here.
"""

import csv
import gzip
import io
import json
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


def build_contours(reference):
    """departements_contours.json.gz: each département's rings in km on the plane of its zone
    (maps.project), rounded to 100 m, as integers: x0, y0, then the moves from point to point.
    Points that round together are dropped; a shared border rounds the same way on both sides."""
    sys.path.insert(0, str(HERE.parents[2]))
    from cadre.territories.maps import CONTOUR_UNIT_KM, project, zone_of

    with open(reference / "departements_contours.geojson", encoding="utf-8") as source:
        features = json.load(source)["features"]
    departments, count = [], 0
    for feature in sorted(features, key=lambda f: f["properties"]["code"]):
        code, geometry = feature["properties"]["code"], feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        rings = []
        for ring in (ring for polygon in polygons for ring in polygon):
            points = []
            for longitude, latitude in ring:
                x, y = project(zone_of(code), latitude, longitude)
                point = (round(x / CONTOUR_UNIT_KM), round(y / CONTOUR_UNIT_KM))
                if not points or point != points[-1]:
                    points.append(point)
            if len(points) > 1 and points[-1] == points[0]:
                points.pop()  # GeoJSON repeats the first point; the SVG path closes by itself
            if len(points) < 3:
                continue
            flat = list(points[0])
            for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
                flat += [bx - ax, by - ay]
            rings.append(flat)
            count += len(points)
        properties = feature["properties"]
        departments.append({"code": code, "name": properties["nom"], "region": properties["region"], "rings": rings})
    payload = {
        "source": "IGN Admin Express COG 2018 simplifié, via gregoiredavid/france-geojson "
        "5d34ee6d0140c29f785fdb047d9329f1aab58833 ; noms COG 2026",
        "licence": "Licence Ouverte / Open Licence (Etalab)",
        "projection": "métropole : conique conforme de Lambert sur la sphère (parallèles 44° et 49° N, origine "
        "46,5° N 3° E) ; chaque DROM : équirectangulaire centrée sur le territoire",
        "unit_km": CONTOUR_UNIT_KM,
        "departments": departments,
    }
    target = HERE / "departements_contours.json.gz"
    with gzip.GzipFile(target, "wb", mtime=0) as out:
        out.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    print(f"{target.name}: {len(departments)} départements, {count} points")


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
    build_contours(reference)


if __name__ == "__main__":
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference"))
