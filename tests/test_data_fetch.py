"""`tinycodec data list|verify|fetch` end to end against a loopback HTTP server serving a small tree.

The server (127.0.0.1, port 0) honours Range requests and records every request, so the
tests can check that a .part was continued with a Range header, that the MIT-BIH-like set
went through wfdb's downloader (its User-Agent) and that nothing reached the outside.
One test verifies the real catalog against the real data root.
"""
from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import stat
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

from toolchain.data import DataError, data_root
from toolchain.data.catalog_build import CATALOG_PATH, build_catalog, dumps
from toolchain.data.fetch import fetch, list_sets, load_catalog, verify

CLI = [sys.executable, "-m", "toolchain.cli"]

# The tree the server serves as a mirror of a data root: <set>/<path> -> bytes.
TREE = {
    "alpha": {
        "a.txt": b"alpha file a\n" * 50,
        "sub/b.bin": bytes(range(256)) * 40,
    },
    "beta": {
        "c.csv": b"t,v\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(3000)),
        "derived.csv.gz": b"\x1f\x8b pretend this is gzip" * 10,
    },
    "fakemitdb": {
        "RECORDS": b"100\n101\n",
        "100.hea": b"100 2 360 650000\r\n",
        "100.dat": bytes((i * 7) % 251 for i in range(40_000)),
        "101.atr": b"\x00\x01" * 500,
    },
}
META = {
    "alpha": {"description": "fake set alpha", "source": {"kind": "http", "base_url": None}, "license": "test"},
    "beta": {"description": "fake set beta", "source": {"kind": "http", "base_url": None},
             "derived": {"*.gz": "gzip of an original .csv"}},
    "fakemitdb": {"description": "MIT-BIH-like set", "source": {"kind": "physionet", "physionet": "fakemitdb/1.0.0",
                                                                "index_url": None}},
}


class _State:
    def __init__(self, docroot: Path):
        self.docroot = docroot
        self.requests: list[dict] = []      # method, path, range, user_agent
        self.override: dict[str, bytes] = {}  # URL path -> bytes served instead of the file
        self.ignore_range = False
        self.lock = threading.Lock()


class _Handler(http.server.BaseHTTPRequestHandler):
    state: _State

    def log_message(self, *a):             # keep pytest output clean
        pass

    def _body(self) -> bytes | None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if path in self.state.override:
            return self.state.override[path]
        f = (self.state.docroot / path.lstrip("/")).resolve()
        if self.state.docroot not in f.parents or not f.is_file():
            return None
        return f.read_bytes()

    def _serve(self, head: bool):
        rng = self.headers.get("Range")
        with self.state.lock:
            self.state.requests.append({"method": self.command, "path": urllib.parse.unquote(self.path),
                                        "range": rng, "user_agent": self.headers.get("User-Agent", "")})
        body = self._body()
        if body is None:
            self.send_error(404, "Not Found")
            return
        start, end, status = 0, len(body), 200
        if rng and not self.state.ignore_range and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a)
            end = min(int(b) + 1, len(body)) if b else len(body)
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "none" if self.state.ignore_range else "bytes")
        self.send_header("Content-Length", str(end - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(body)}")
        self.end_headers()
        if not head:
            self.wfile.write(body[start:end])

    def do_GET(self):
        self._serve(head=False)

    def do_HEAD(self):
        self._serve(head=True)


class Server:
    def __init__(self, docroot: Path):
        self.state = _State(docroot.resolve())
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def requests_for(self, suffix: str) -> list[dict]:
        return [r for r in self.state.requests if r["path"].endswith(suffix)]


@pytest.fixture
def server(tmp_path):
    srv_root = tmp_path / "srv"
    for name, files in TREE.items():
        for rel, data in files.items():
            for base in (srv_root / "mirror" / name, srv_root / "orig" / name):
                (base / rel).parent.mkdir(parents=True, exist_ok=True)
                (base / rel).write_bytes(data)
    for rel, data in TREE["fakemitdb"].items():       # the PhysioNet layout: <index>/<db>/<version>/<file>
        p = srv_root / "pn" / "fakemitdb" / "1.0.0" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    s = Server(srv_root)
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()
    s.thread.join(5)


@pytest.fixture
def catalog(tmp_path, server) -> Path:
    """A catalog for TREE, made by the generator from the mirror tree, originals on the loopback server."""
    meta = {k: {**v, "source": dict(v["source"])} for k, v in META.items()}
    meta["alpha"]["source"]["base_url"] = f"{server.url}/orig/alpha/"
    meta["beta"]["source"]["base_url"] = f"{server.url}/orig/beta/"
    meta["fakemitdb"]["source"]["index_url"] = f"{server.url}/pn/"
    cat = build_catalog(server.state.docroot / "mirror", {"sets": meta}, log=lambda m: None)
    path = tmp_path / "catalog.json"
    path.write_text(dumps(cat))
    return path


@pytest.fixture
def root(tmp_path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


def n_files() -> int:
    return sum(len(f) for f in TREE.values())


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def mirror(server) -> str:
    return f"{server.url}/mirror"


# --------------------------------------------------------------------------- catalog


def test_catalog_generator_keeps_hand_written_fields(catalog):
    cat = load_catalog(catalog)
    assert set(cat["sets"]) == set(TREE)
    assert cat["sets"]["alpha"]["license"] == "test"
    files = {f["path"]: f for f in cat["sets"]["beta"]["files"]}
    assert files["c.csv"]["sha256"] == sha(TREE["beta"]["c.csv"])
    assert files["c.csv"]["bytes"] == len(TREE["beta"]["c.csv"])
    assert files["derived.csv.gz"]["derived"] == "gzip of an original .csv" and "derived" not in files["c.csv"]
    assert [f["path"] for f in cat["sets"]["alpha"]["files"]] == ["a.txt", "sub/b.bin"]
    rows = {r["set"]: r for r in list_sets(catalog)}
    assert rows["beta"]["derived"] == 1 and "PhysioNet fakemitdb/1.0.0" in rows["fakemitdb"]["source"]


# --------------------------------------------------------------------------- verify + fetch


def test_verify_empty_root_reports_all_missing(root, catalog):
    rep = verify(root, catalog=catalog)
    assert not rep.ok and len(rep.files) == n_files()
    assert {f.status for f in rep.files} == {"missing"}
    assert "missing" in rep.table() and "FAILED" in rep.summary()


def test_fetch_everything_from_a_mirror_then_verify_passes(root, catalog, server):
    rep = fetch(root, mirror=mirror(server), catalog=catalog, progress=False)
    assert rep.ok, rep.errors
    assert len(rep.fetched) == n_files() and rep.already_ok == 0
    for name, files in TREE.items():
        for rel, data in files.items():
            assert (root / name / rel).read_bytes() == data
    v = verify(root, catalog=catalog)
    assert v.ok and not v.extra and not v.partial, v.table()
    assert not list(root.rglob("*.part")) and not (root / "fakemitdb" / ".wfdb-dl").exists()
    # the MIT-BIH-like set went through wfdb's downloader (redirected to the mirror), the rest through urllib
    mit = server.requests_for("/mirror/fakemitdb/100.dat")
    assert mit and all(r["user_agent"].startswith("wfdb-python/") for r in mit)
    http = server.requests_for("/mirror/alpha/a.txt")
    assert http and all(r["user_agent"].startswith("tinycodec") for r in http)
    # a second run downloads nothing
    n = len(server.state.requests)
    again = fetch(root, mirror=mirror(server), catalog=catalog, progress=False)
    assert again.ok and not again.fetched and again.already_ok == n_files()
    assert len(server.state.requests) == n


def test_fetch_from_original_sources(root, catalog, server):
    """No mirror: HTTP sets from source.base_url, the PhysioNet set via wfdb from <index>/<db>/<version>/."""
    rep = fetch(root, catalog=catalog, progress=False)
    assert [e.path for e in rep.errors] == ["derived.csv.gz"]
    assert "--mirror" in rep.errors[0].message and "derived" in rep.errors[0].message
    assert len(rep.fetched) == n_files() - 1
    assert server.requests_for("/orig/alpha/sub/b.bin")
    assert server.requests_for("/pn/fakemitdb/1.0.0/100.dat")
    assert not server.requests_for("/mirror/alpha/a.txt")
    v = verify(root, catalog=catalog)
    assert [(f.path, f.status) for f in v.problems] == [("derived.csv.gz", "missing")]


def test_corrupted_file_is_detected_and_refetched(root, catalog, server):
    assert fetch(root, mirror=mirror(server), catalog=catalog, progress=False).ok
    bad = root / "beta" / "c.csv"
    data = bytearray(bad.read_bytes())
    data[100] ^= 0xFF                                            # same size, other bytes
    bad.write_bytes(bytes(data))
    (root / "fakemitdb" / "100.dat").write_bytes(b"short")      # wrong size
    v = verify(root, catalog=catalog)
    assert {(f.set, f.path, f.status) for f in v.problems} == {
        ("beta", "c.csv", "sha256 differs"), ("fakemitdb", "100.dat", "size differs")}
    assert sha(TREE["beta"]["c.csv"]) in v.table()
    good = root / "alpha" / "a.txt"
    mtime = good.stat().st_mtime_ns
    rep = fetch(root, mirror=mirror(server), catalog=catalog, progress=False)
    assert rep.ok and sorted(rep.fetched) == ["beta/c.csv", "fakemitdb/100.dat"]
    assert verify(root, catalog=catalog).ok
    assert good.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("key", ["beta/c.csv", "fakemitdb/100.dat"])
def test_server_serving_a_bad_file_is_refused(root, catalog, server, key):
    set_name, rel = key.split("/", 1)
    real = TREE[set_name][rel]
    evil = bytes([real[0] ^ 1]) + real[1:]
    server.state.override[f"/mirror/{key}"] = evil
    rep = fetch(root, mirror=mirror(server), catalog=catalog, progress=False)
    assert len(rep.errors) == 1 and rep.errors[0].path == rel
    msg = rep.errors[0].message
    assert key in msg and sha(real) in msg and sha(evil) in msg and "refused" in msg
    assert not (root / key).exists()
    assert not list(root.rglob("*.part")) and not list(root.rglob(".wfdb-dl/*"))
    assert len(rep.fetched) == n_files() - 1                    # every other file still came
    v = verify(root, catalog=catalog)
    assert [(f.path, f.status) for f in v.problems] == [(rel, "missing")]


def test_resume_http_part_with_range(root, catalog, server):
    data = TREE["beta"]["c.csv"]
    part = root / "beta" / "c.csv.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[: len(data) // 2])
    assert verify(root, ["beta"], catalog=catalog).partial == ["beta/c.csv.part"]
    rep = fetch(root, ["beta"], mirror=mirror(server), catalog=catalog, progress=False)
    assert rep.ok and rep.resumed == ["beta/c.csv"]
    reqs = server.requests_for("/mirror/beta/c.csv")
    assert [r["range"] for r in reqs] == [f"bytes={len(data) // 2}-"]
    assert (root / "beta" / "c.csv").read_bytes() == data and not part.exists()


def test_resume_restarts_when_the_server_ignores_range(root, catalog, server):
    server.state.ignore_range = True
    data = TREE["beta"]["c.csv"]
    part = root / "beta" / "c.csv.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"garbage that must not survive" + data[:100])
    rep = fetch(root, ["beta"], mirror=mirror(server), catalog=catalog, progress=False)
    assert rep.ok and not rep.resumed
    assert server.requests_for("/mirror/beta/c.csv")[0]["range"] is not None
    assert (root / "beta" / "c.csv").read_bytes() == data


def test_resume_wfdb_part_with_range(root, catalog, server):
    data = TREE["fakemitdb"]["100.dat"]
    part = root / "fakemitdb" / "100.dat.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[: len(data) // 2])
    rep = fetch(root, ["fakemitdb"], mirror=mirror(server), catalog=catalog, progress=False)
    assert rep.ok and rep.resumed == ["fakemitdb/100.dat"]
    ranges = [r["range"] for r in server.requests_for("/mirror/fakemitdb/100.dat") if r["method"] == "GET"]
    assert ranges == [f"bytes={len(data) // 2}-"]
    assert (root / "fakemitdb" / "100.dat").read_bytes() == data
    assert verify(root, ["fakemitdb"], catalog=catalog).ok


@pytest.mark.parametrize("key", ["alpha/a.txt", "fakemitdb/RECORDS"])
def test_404_names_the_url(root, catalog, server, key):
    (server.state.docroot / "mirror" / key).unlink()
    rep = fetch(root, mirror=mirror(server), catalog=catalog, progress=False)
    assert len(rep.errors) == 1
    msg = rep.errors[0].message
    assert "404" in msg and f"{server.url}/mirror/{key}" in msg
    assert not (root / key).exists() and len(rep.fetched) == n_files() - 1


def test_unreachable_server_is_a_clear_error(root, catalog):
    rep = fetch(root, ["alpha"], mirror="http://127.0.0.1:9/nothing", catalog=catalog, progress=False,
                timeout=2)
    assert len(rep.errors) == 2 and all("127.0.0.1:9/nothing/alpha/" in e.message for e in rep.errors)


def test_read_only_root_is_a_clear_error(root, catalog, server):
    os.chmod(root, 0o555)
    try:
        with pytest.raises(DataError, match="read-only"):
            fetch(root, mirror=mirror(server), catalog=catalog, progress=False)
        assert not list(root.iterdir()) and not server.state.requests
    finally:
        os.chmod(root, 0o755)


def test_unknown_set_is_an_error(root, catalog):
    with pytest.raises(DataError, match="unknown data set.*nope.*alpha"):
        verify(root, ["nope"], catalog=catalog)


# --------------------------------------------------------------------------- the real catalog and data root


def test_real_catalog_matches_the_real_data_root():
    cat = load_catalog()
    real = data_root()
    folders = {p.name for p in real.iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert set(cat["sets"]) == folders
    rep = verify(real)
    assert rep.ok, rep.table()
    assert not rep.extra and not rep.partial
    assert len(rep.files) == 2941
    # the data root's own manifest says the same
    manifest = {}
    for line in (real / "MANIFEST.tsv").read_text().splitlines()[1:]:
        path, size, digest = line.split("\t")
        manifest[path] = (int(size), digest)
    mine = {f"{s}/{f['path']}": (f["bytes"], f["sha256"]) for s, m in cat["sets"].items() for f in m["files"]}
    assert mine == manifest
    mit = cat["sets"]["mitdb"]["source"]
    assert mit["physionet"] == "mitdb/1.0.0" and mit["base_url"] == "https://physionet.org/files/mitdb/1.0.0/"
    assert CATALOG_PATH.name == "catalog.json"


# --------------------------------------------------------------------------- CLI


def tc(*args):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def test_cli_verify_fetch_list_exit_codes(root, catalog, server):
    p = tc("data", "verify", "--catalog", str(catalog), "--root", str(root))
    assert p.returncode == 1, p.stderr
    assert "missing" in p.stdout and "alpha" in p.stdout and "FAILED" in p.stdout
    p = tc("data", "fetch", "--catalog", str(catalog), "--root", str(root), "--mirror", mirror(server), "alpha")
    assert p.returncode == 0, p.stderr
    assert "fetched 2 file(s)" in p.stdout
    p = tc("data", "verify", "--catalog", str(catalog), "--root", str(root), "alpha")
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr
    (root / "alpha" / "a.txt").write_bytes(b"changed")
    p = tc("data", "verify", "--catalog", str(catalog), "--root", str(root), "alpha")
    assert p.returncode == 1 and "size differs" in p.stdout
    server.state.override["/mirror/alpha/a.txt"] = b"evil"
    p = tc("data", "fetch", "--catalog", str(catalog), "--root", str(root), "--mirror", mirror(server), "alpha")
    assert p.returncode == 1 and "refused" in p.stderr and sha(b"evil") in p.stderr
    p = tc("data", "verify", "--catalog", str(catalog), "--root", str(root), "nope")
    assert p.returncode == 2 and "unknown data set" in p.stderr and "Traceback" not in p.stderr
    p = tc("data", "list", "--catalog", str(catalog))
    assert p.returncode == 0 and "fakemitdb" in p.stdout and "PhysioNet fakemitdb/1.0.0" in p.stdout


def test_cli_verify_real_data_root():
    p = tc("data", "verify")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2941 ok" in p.stdout


def test_progress_bar_on_stderr(root, catalog, server, capsys):
    rep = fetch(root, ["alpha"], mirror=mirror(server), catalog=catalog, progress=True)
    assert rep.ok
    err = capsys.readouterr().err
    assert "fetch" in err and "100%" in err
    quiet = fetch(root / "other", ["alpha"], mirror=mirror(server), catalog=catalog)   # stderr not a tty
    assert quiet.ok and capsys.readouterr().err == ""
