"""Regenerate toolchain/data/catalog.json from a data root (sizes and SHA-256 of every file).

    python -m toolchain.data.catalog_build [--root DIR] [--out FILE]

Every folder of the data root becomes a set. The hand-written fields of a set
(description, source, license, citation, derived, originals, ...) are kept from the
existing catalog; a set that is not there yet starts from SEED below (or from an
empty stub, with a warning, for a folder nobody described). Only "files" is
regenerated: one {"path", "bytes", "sha256"} per file, plus "derived": note for the
files matching one of the set's "derived" patterns (files that the original source
does not hold byte-identical, so they come only from a --mirror).
"""
from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import sys
from pathlib import Path

CATALOG_PATH = Path(__file__).with_name("catalog.json")
# Files of the data root itself that belong to no set.
ROOT_FILES = ("README.md", "MANIFEST.tsv", "SHA256SUMS")
# Names fetch leaves behind while downloading; never part of a set.
PARTIAL_SUFFIX = ".part"
WFDB_STAGING = ".wfdb-dl"

_GH = "https://raw.githubusercontent.com"

SEED: dict[str, dict] = {
    "mitdb": {
        "description": "MIT-BIH Arrhythmia Database v1.0.0, all 48 records (WFDB .hea/.dat/.atr, RECORDS, ANNOTATORS)",
        "source": {"kind": "physionet", "physionet": "mitdb/1.0.0",
                   "base_url": "https://physionet.org/files/mitdb/1.0.0/"},
        "provenance": "copied from github Sped0n/mit-bih@90906a8ea7f832c32fff1cd5733e40e79b5a40b7 assets/ "
                      "(.hea converted back to CRLF); byte-identical to PhysioNet's SHA256SUMS.txt for mitdb 1.0.0",
        "license": "ODC-By v1.0 (PhysioNet)",
        "citation": "Moody GB, Mark RG, The impact of the MIT-BIH Arrhythmia Database, IEEE EMB Mag 20(3):45-50, "
                    "2001; Goldberger et al., Circulation 101(23):e215-e220, 2000",
    },
    "sensorscope_gsb": {
        "description": "SensorScope Grand-St-Bernard 2007, ambient temperature of stations 11,12,17,18,19,20 "
                       "(cleaned, 2-min grid, gzipped)",
        "source": {"kind": "http", "repo": "GEO-IASS/AnomalyDetector",
                   "commit": "fab1bd19a0e3726ed06da7c17742bfaee96bdd43",
                   "base_url": f"{_GH}/GEO-IASS/AnomalyDetector/fab1bd19a0e3726ed06da7c17742bfaee96bdd43/data/stbernard/"},
        "derived": {"*.txt.gz": "gzip -9 -n of the source's uncompressed .txt (see originals)"},
        "originals": {
            f"cleaned-stbernard-meteo-{n}.txt.gz": {"source": f"cleaned-stbernard-meteo-{n}.txt", "sha256": h}
            for n, h in [
                (11, "fdff65d09733d3e2c1ed06d6255d4c31256405e2937d3681b71dd348d0563c0e"),
                (12, "b31ea00719a2ced73aa179591577bad978b4fd8d6da5bbee0df4b0b294e4df77"),
                (17, "4a44be2d32b6546e5e356456e8f639709a8435ef82a47ae0592587a9b6700c42"),
                (18, "64905769a469bca96dbdebc3a77158f75ebf0f1a8b1b3fb75ce45c22fa799bd7"),
                (19, "4f3de38dbe26732cc4e3d7d6e0eb2a3a828daaccf3efc52042729e5bdfe9641d"),
                (20, "6aaa6f726e03bd0b4e80d712d558f93f5fe0fa7a4a17475a293369a089c7d746"),
            ]
        },
        "license": "not stated (EPFL SensorScope project, LCAV/EFLUM)",
    },
    "ulb_wsn": {
        "description": "ULB MLG sensorNet Tmote Sky deployments (2006): Library1, Library2, NO5",
        "source": {"kind": "http", "repo": "aathawerani/PatientHealthMonitoring",
                   "commit": "f2ece0f65780ec20eb902f214a16d8c9ffabbf2c",
                   "base_url": f"{_GH}/aathawerani/PatientHealthMonitoring/f2ece0f65780ec20eb902f214a16d8c9ffabbf2c/SWData/2/",
                   "homepage": "http://www.ulb.ac.be/di/mlg/sensorNet/datasets.html"},
        "derived": {
            "library1/*": "extracted from library1data.tgz (Library1-Dataset/)",
            "library2/*": "extracted from library2data.tgz (Library2-Dataset/)",
            "no5/*": "extracted from NO5.zip",
        },
        "license": "not stated",
    },
    "intel_lab_pcag": {
        "description": "Intel Berkeley Research Lab temperatures, 52 motes x 14,400 steps (ULB PCAg subset)",
        "source": {"kind": "http", "repo": "aathawerani/PatientHealthMonitoring",
                   "commit": "f2ece0f65780ec20eb902f214a16d8c9ffabbf2c",
                   "base_url": f"{_GH}/aathawerani/PatientHealthMonitoring/f2ece0f65780ec20eb902f214a16d8c9ffabbf2c/SWData/2/",
                   "homepage": "http://db.csail.mit.edu/labdata/labdata.html"},
        "derived": {"*": "extracted from PCAgExpe.zip (PCAgExpe/); subsfin.txt gzipped -9 -n"},
        "originals": {"subsfin.txt.gz": {"source": "PCAgExpe.zip:PCAgExpe/subsfin.txt",
                                         "sha256": "87f7b6a7c388debfb07ff3dfd576ef0a42782b999a68436592c9f02f3424ba69"}},
        "license": "not stated",
        "citation": "Le Borgne, Dricot, Bontempi, Principal Component Aggregation..., 2008; Intel Lab data, "
                    "Madden et al., 2004",
    },
    "cinc2017_subset": {
        "description": "PhysioNet/CinC Challenge 2017 AF, balanced subset of 1,000 of 8,528 training records "
                       "(250 each of N, A, O, ~)",
        "source": {"kind": "http", "repo": "Enei7/ECG2Text-AF",
                   "commit": "b1060827f8514ef3c90dad5b9d27614582184b00",
                   "base_url": f"{_GH}/Enei7/ECG2Text-AF/b1060827f8514ef3c90dad5b9d27614582184b00/training2017/"},
        "derived": {
            "RECORDS": "list of the 1,000 subset records (written for this subset)",
            "REFERENCE-v3.csv": "subset rows of training2017/REFERENCE.csv, header row dropped",
            "REFERENCE-v1.csv": "subset rows of training2017/REFERENCE-original.csv",
        },
        "license": "ODC-By v1.0 (PhysioNet challenge-2017)",
        "citation": "Clifford GD et al., AF Classification from a Short Single Lead ECG Recording: the "
                    "PhysioNet/Computing in Cardiology Challenge 2017, CinC 2017",
    },
    "kodak": {
        "description": "Kodak Lossless True Color Image Suite, kodim01..24.png",
        "source": {"kind": "http", "repo": "Zelex/images", "commit": "0b8a89db599a384124fb991b85d40cfd63c73d58",
                   "base_url": f"{_GH}/Zelex/images/0b8a89db599a384124fb991b85d40cfd63c73d58/kodak/",
                   "homepage": "http://r0k.us/graphics/kodak/"},
        "license": "no license file (widely described as released for unrestricted use; Eastman Kodak)",
    },
    "flowers_227": {
        "description": "Flowers (tf_flowers / Kaggle Flowers Recognition), 750 JPEGs at 227x227, 5 classes",
        "source": {"kind": "http", "repo": "JoelOscarsson/dl-assignment",
                   "commit": "05bf18b10cd76b8225e93e93beef1cb94c77cfbb",
                   "base_url": f"{_GH}/JoelOscarsson/dl-assignment/05bf18b10cd76b8225e93e93beef1cb94c77cfbb/data/flowers/"},
        "derived": {"labels.csv": "file,label,source_path table written for this subset"},
        "license": "Flickr originals CC-BY per photographer (attributions not included); Kaggle terms not checked",
    },
}


def sha256_file(path: Path, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def set_files(setdir: Path) -> list[Path]:
    """Data files of a set folder, sorted, without fetch's leftovers (*.part, .wfdb-dl/)."""
    out = []
    for p in sorted(setdir.rglob("*")):
        rel = p.relative_to(setdir)
        if not p.is_file() or WFDB_STAGING in rel.parts or p.name.endswith(PARTIAL_SUFFIX):
            continue
        out.append(p)
    return out


def derived_note(meta: dict, rel: str) -> str | None:
    for pat, note in (meta.get("derived") or {}).items():
        if fnmatch.fnmatchcase(rel, pat):
            return note
    return None


def build_catalog(root: Path, old: dict | None = None, log=print) -> dict:
    old_sets = (old or {}).get("sets", {})
    sets = {}
    for setdir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        name = setdir.name
        meta = {k: v for k, v in (old_sets.get(name) or SEED.get(name) or {}).items() if k not in ("files", "bytes")}
        if not meta:
            log(f"catalog_build: warning: {name}/ has no hand-written entry (description, source); stub written")
            meta = {"description": "", "source": {"kind": "http", "base_url": None}}
        files = []
        for p in set_files(setdir):
            rel = p.relative_to(setdir).as_posix()
            entry = {"path": rel, "bytes": p.stat().st_size, "sha256": sha256_file(p)}
            note = derived_note(meta, rel)
            if note:
                entry["derived"] = note
            files.append(entry)
        meta["bytes"] = sum(f["bytes"] for f in files)
        meta["files"] = files
        sets[name] = meta
    return {"format": 1,
            "about": "Data sets of the data root: original sources and the size and SHA-256 of every file. "
                     "Regenerate with python -m toolchain.data.catalog_build. A file's original URL is "
                     "source.base_url + path unless it has 'derived' (then only a --mirror of the data root "
                     "serves it, as <mirror>/<set>/<path>).",
            "sets": sets}


def dumps(cat: dict) -> str:
    """JSON with one line per file entry (readable diffs, moderate size)."""
    sets = cat["sets"]
    head = {k: v for k, v in cat.items() if k != "sets"}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    lines.append('  "sets": {')
    for i, (name, meta) in enumerate(sets.items()):
        lines.append(f"    {json.dumps(name)}: {{")
        items = [(k, v) for k, v in meta.items() if k != "files"]
        for k, v in items:
            lines.append(f"      {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
        lines.append('      "files": [')
        fl = meta.get("files", [])
        for j, f in enumerate(fl):
            lines.append("        " + json.dumps(f, ensure_ascii=False) + ("," if j < len(fl) - 1 else ""))
        lines.append("      ]")
        lines.append("    }" + ("," if i < len(sets) - 1 else ""))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from .root import resolve_root
    ap = argparse.ArgumentParser(prog="python -m toolchain.data.catalog_build", description=__doc__.split("\n")[0])
    ap.add_argument("--root", help="data root (default: $TINYCODEC_DATA or <repo>/../shared/data)")
    ap.add_argument("--out", type=Path, default=CATALOG_PATH, help=f"catalog to write (default {CATALOG_PATH})")
    args = ap.parse_args(argv)
    root = resolve_root(args.root)
    old = json.loads(args.out.read_text()) if args.out.is_file() else None
    cat = build_catalog(root, old, log=lambda m: print(m, file=sys.stderr))
    args.out.write_text(dumps(cat))
    n = sum(len(s["files"]) for s in cat["sets"].values())
    b = sum(s["bytes"] for s in cat["sets"].values())
    print(f"wrote {args.out}: {len(cat['sets'])} sets, {n} files, {b:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
