"""Cloud cost calculator (codecs.ecg_dynamic.cost): arithmetic against a hand computation, config errors."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from toolchain.codecs.ecg_dynamic.cost import (MODELS, CostConfigError, load_cost_config, main,
                                               write_cost_csv, yearly_costs)

REPO = Path(__file__).resolve().parents[1]

# Tiny deployment with round numbers, so every figure below is checked by hand.
TINY = """
[deployment]
beds = 2
monitored_share = 0.5
hours_per_day = 12
[signal]
sampling_rate_hz = 10
bits_per_sample = 8
segment_samples = 100
[storage]
price_per_gb_month = 2.0
retention_months = 3
retrieval_price_per_gb = 4.0
[compute]
price_per_vcpu_hour = 3.6
dynamic_decode_segments_per_cpu_s = 100
lossless_decode_segments_per_cpu_s = 1000
[transfer]
ingress_price_per_gb = 1.0
[review]
share = 0.5
"""
# By hand: samples = 2 * 0.5 * 12 h * 3600 s * 365 d * 10 Hz = 157,680,000 -> 8 bits each = 0.15768 GB,
# 1,576,800 segments. vCPU price 3.6 per hour = 0.001 per vCPU-second. CG lossless 2, dynamic 8.
#   raw:      storage 0.15768 * 3 * 2 = 0.94608; transfer 0.15768 * 1 + 0.5 * 0.15768 * 4 = 0.47304
#   lossless: 0.07884 GB; storage 0.47304; transfer 0.07884 + 0.15768 = 0.23652;
#             compute 1.5 * 1,576,800 / 1000 s * 0.001 = 2.3652
#   dynamic:  0.01971 GB; storage 0.11826; transfer 0.01971 + 0.03942 = 0.05913; compute 23.652
#   dyn+unc:  ingress 0.17739 GB, stored 0.01971; storage 0.11826; transfer 0.17739 + 0.03942 = 0.21681;
#             compute 0.5 * 1,576,800 / 100 s * 0.001 = 7.884
HAND = {
    "raw": (0.15768, 0.15768, 0.94608, 0.0, 0.47304),
    "lossless": (0.07884, 0.07884, 0.47304, 2.3652, 0.23652),
    "dynamic": (0.01971, 0.01971, 0.11826, 23.652, 0.05913),
    "dynamic+uncompressed": (0.17739, 0.01971, 0.11826, 7.884, 0.21681),
}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(TINY)
    return p


def test_yearly_costs_match_hand_computation(tiny: Path) -> None:
    rows = yearly_costs(load_cost_config(tiny), 2.0, 8.0)
    assert [r["model"] for r in rows] == list(MODELS)
    raw_total = sum(HAND["raw"][2:])
    for r in rows:
        ingress, stored, storage, compute, transfer = HAND[r["model"]]
        assert r["ingress_gb"] == pytest.approx(ingress, rel=1e-12)
        assert r["stored_gb_per_year"] == pytest.approx(stored, rel=1e-12)
        assert r["storage"] == pytest.approx(storage, rel=1e-12)
        assert r["compute"] == pytest.approx(compute, rel=1e-12, abs=1e-15)
        assert r["transfer"] == pytest.approx(transfer, rel=1e-12)
        assert r["total"] == pytest.approx(storage + compute + transfer, rel=1e-12)
        assert r["savings_vs_raw_pct"] == pytest.approx(100 * (1 - (storage + compute + transfer) / raw_total))


def test_decode_rate_argument_overrides_config(tiny: Path) -> None:
    rows = {r["model"]: r for r in yearly_costs(load_cost_config(tiny), 2.0, 8.0, decode_segments_per_cpu_s=200)}
    assert rows["dynamic"]["compute"] == pytest.approx(23.652 / 2)
    assert rows["lossless"]["compute"] == pytest.approx(2.3652)      # lossless keeps its own rate
    with pytest.raises(ValueError, match="cg_bits_dynamic"):
        yearly_costs(load_cost_config(tiny), 2.0, 0.0)


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in TINY
    p = tmp_path / "broken.toml"
    p.write_text(TINY.replace(old, new))
    return p


def test_missing_key_names_file_and_key(tmp_path: Path) -> None:
    p = _broken(tmp_path, "retention_months = 3\n", "")
    with pytest.raises(CostConfigError, match=r"broken\.toml: \[storage\] retention_months is missing"):
        load_cost_config(p)
    p = _broken(tmp_path, "[review]\nshare = 0.5\n", "")
    with pytest.raises(CostConfigError, match=r"broken\.toml: missing table \[review\]"):
        load_cost_config(p)


@pytest.mark.parametrize("old, new, key", [
    ("beds = 2", 'beds = "2"', r"\[deployment\] beds must be an integer"),
    ("bits_per_sample = 8", "bits_per_sample = 8.5", r"\[signal\] bits_per_sample must be an integer"),
    ("price_per_vcpu_hour = 3.6", "price_per_vcpu_hour = true", r"\[compute\] price_per_vcpu_hour must be a number"),
    ("\nshare = 0.5", "\nshare = 1.5", r"\[review\] share = 1.5 is out of range"),
])
def test_mistyped_key_names_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    with pytest.raises(CostConfigError, match=r"broken\.toml: " + key):
        load_cost_config(_broken(tmp_path, old, new))


def test_shipped_config_and_cli(tmp_path: Path, capsys) -> None:
    cfg = REPO / "toolchain" / "codecs" / "ecg_dynamic" / "ecg_cost.toml"
    load_cost_config(cfg)
    out = tmp_path / "cost.csv"
    assert main(["--config", str(cfg), "--cg-lossless", "2.5", "--cg-dynamic", "40", "--csv", str(out)]) == 0
    text = capsys.readouterr().out
    assert all(m in text for m in MODELS)
    assert [r["model"] for r in csv.DictReader(open(out))] == list(MODELS)
    assert main(["--config", str(tmp_path / "none.toml"), "--cg-lossless", "2", "--cg-dynamic", "4"]) == 2
    assert "none.toml" in capsys.readouterr().err


def test_write_cost_csv_roundtrip(tiny: Path, tmp_path: Path) -> None:
    rows = yearly_costs(load_cost_config(tiny), 2.0, 8.0)
    write_cost_csv(rows, tmp_path / "c.csv")
    back = list(csv.DictReader(open(tmp_path / "c.csv")))
    assert float(back[2]["total"]) == pytest.approx(rows[2]["total"])


def test_gains_from_a_bench_csv(tmp_path: Path) -> None:
    from toolchain.codecs.ecg_dynamic.cost import gains_from_bench
    p = tmp_path / "ecg_dynamic.csv"
    p.write_text("bound,task,method,avg_cg_bits\n,beat,lossless,2.5\n0.5,rhythm,dynamic,40\n"
                 "0.75,rhythm,dynamic,55.5\n0.75,beat,dynamic,70\n")
    assert gains_from_bench(p, "rhythm", 0.75) == (2.5, 55.5)
    with pytest.raises(ValueError, match="no row with method dynamic, task rhythm, bound 0.9"):
        gains_from_bench(p, "rhythm", 0.9)
    with pytest.raises(ValueError, match="no such bench CSV"):
        gains_from_bench(tmp_path / "missing.csv")
