"""`make bench-wsn` machinery on one small data set (the full run is `make bench-wsn`)."""
from __future__ import annotations

import csv

from toolchain.bench import wsn


def test_bench_wsn_quick_writes_complete_tables(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYCODEC_RESULTS", str(tmp_path))
    # rows of models this run does not cover are kept
    (tmp_path / "wsn_rate_distortion.csv").write_text("model,method,eps,violations,cr\nother,ltc,5,0,2.0\n")
    rc = wsn.run_bench(models=["ulb-temporal"], quick=True)
    assert rc == 0
    rd = list(csv.DictReader(open(tmp_path / "wsn_rate_distortion.csv")))
    assert [r["method"] for r in rd if r["model"] == "other"] == ["ltc"]
    rd = [r for r in rd if r["model"] == "ulb-temporal"]
    methods = {r["method"] for r in rd}
    assert methods == {"ae-basic", "ae-wae", "ae-sae", "ltc", "dct", "pca", "nlms", "zstd", "zstd-dict"}
    for m in methods:
        assert sorted(int(r["eps"]) for r in rd if r["method"] == m) == [5, 10, 20, 50]
    assert all(int(r["violations"]) == 0 and int(r["max_abs_err"]) <= int(r["eps"]) for r in rd)
    assert all(float(r["cr"]) > 1 for r in rd if r["method"] != "zstd")
    dev = list(csv.DictReader(open(tmp_path / "wsn_device.csv")))
    ran = [r for r in dev if r["windows"]]
    assert {r["board"] for r in ran} == {"native", "msp430g2553", "msp430f1611", "k210-qemu", "cortex-m-qemu"}
    assert all(r["bit_exact"] == r["windows"] and r["violations"] == "0" for r in ran)
    sized = [r for r in dev if r["board"] == "msp430f5529"]
    assert sized and int(sized[0]["flash_bytes"]) > 0 and "built and sized only" in sized[0]["note"]
    qemu = [r for r in ran if r["board"].endswith("-qemu")]
    assert qemu and all(float(r["cycles_per_window"]) > 0 and r["cycles_kind"].startswith("instructions")
                        for r in qemu)
    cyc = [r for r in ran if r["board"].startswith("msp430")]
    assert all(float(r["cycles_per_window"]) > 0 and r["cycles_kind"].startswith("slau144") for r in cyc)
    assert all(0 < int(r["stack_peak_bytes"]) < 200 for r in cyc)
    assert all(int(r["ram_bytes"]) == int(r["ram_static_bytes"]) + int(r["stack_peak_bytes"]) for r in cyc)
    assert all(int(r["ram_bytes"]) <= 512 for r in cyc if r["board"] == "msp430g2553")
    assert all(float(r["energy_raw_uj"]) > 0 and float(r["energy_compressed_uj"]) > 0 for r in cyc)
    assert (tmp_path / "wsn_cr_vs_eps.png").stat().st_size > 10_000
