"""Yearly cloud cost of streaming ECG under four operational models (Dynamic-Deep's Fig. 5 setup).

Why: a compression gain is worth what it saves on the bill, and that depends on prices, retention
and how often the history is decompressed, none of which the codec knows. Every parameter comes
from a TOML file (an example ships as toolchain/codecs/ecg_dynamic/ecg_cost.toml) the user fills with their own numbers; the codec only
supplies its measured compression gains.

Models:
    raw                     device sends raw samples; stored raw; tasks and review read them directly
    lossless                sends / stores the lossless stream; decoded once for the downstream
                            tasks and again for the reviewed share of the history
    dynamic                 sends / stores Dynamic-Deep's stream; decoded once for the tasks and
                            again for the reviewed share
    dynamic+uncompressed    sends both the compressed and the raw stream; tasks run on the raw one
                            (then dropped), only the compressed one is stored and decoded for review

Arithmetic (one year, steady state):
    samples  = beds * monitored_share * hours_per_day * 3600 * 365 * sampling_rate_hz
    raw GB   = samples * bits_per_sample / 8 / 1e9          (decimal GB, as most price lists)
    segments = samples / segment_samples
    a model's GB = raw GB / CG (CG = raw bits over the bits actually sent, headers included)
    storage  = stored GB per year * retention_months * price_per_gb_month   (each month's data
               is kept retention_months months, so one year's data costs that many GB-months)
    compute  = decoded segments / decode rate / 3600 * price_per_vcpu_hour
    transfer = ingress GB * ingress_price_per_gb + review_share * stored GB * retrieval_price_per_gb
The downstream tasks' own compute is the same in every model and is left out.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

SECONDS_PER_HOUR = 3600.0
DAYS_PER_YEAR = 365.0
BYTES_PER_GB = 1e9
MODELS = ("raw", "lossless", "dynamic", "dynamic+uncompressed")


class CostConfigError(ValueError):
    """A cost config value is missing, of the wrong type or out of range (names the file and key)."""


@dataclass(frozen=True)
class CostConfig:
    beds: int
    monitored_share: float
    hours_per_day: float
    sampling_rate_hz: float
    bits_per_sample: int
    segment_samples: int
    price_per_gb_month: float
    retention_months: float
    retrieval_price_per_gb: float
    price_per_vcpu_hour: float
    dynamic_decode_segments_per_cpu_s: float
    lossless_decode_segments_per_cpu_s: float
    ingress_price_per_gb: float
    review_share: float


# field -> (TOML section, key, type, lowest allowed, highest allowed, strictly above the lowest)
_SCHEMA: dict[str, tuple[str, str, type, float, float, bool]] = {
    "beds": ("deployment", "beds", int, 0, math.inf, True),
    "monitored_share": ("deployment", "monitored_share", float, 0, 1, False),
    "hours_per_day": ("deployment", "hours_per_day", float, 0, 24, False),
    "sampling_rate_hz": ("signal", "sampling_rate_hz", float, 0, math.inf, True),
    "bits_per_sample": ("signal", "bits_per_sample", int, 0, 64, True),
    "segment_samples": ("signal", "segment_samples", int, 0, math.inf, True),
    "price_per_gb_month": ("storage", "price_per_gb_month", float, 0, math.inf, False),
    "retention_months": ("storage", "retention_months", float, 0, math.inf, False),
    "retrieval_price_per_gb": ("storage", "retrieval_price_per_gb", float, 0, math.inf, False),
    "price_per_vcpu_hour": ("compute", "price_per_vcpu_hour", float, 0, math.inf, False),
    "dynamic_decode_segments_per_cpu_s": ("compute", "dynamic_decode_segments_per_cpu_s", float, 0, math.inf, True),
    "lossless_decode_segments_per_cpu_s": ("compute", "lossless_decode_segments_per_cpu_s", float, 0, math.inf, True),
    "ingress_price_per_gb": ("transfer", "ingress_price_per_gb", float, 0, math.inf, False),
    "review_share": ("review", "share", float, 0, 1, False),
}
assert set(_SCHEMA) == {f.name for f in fields(CostConfig)}


def _value(path: Path, doc: dict, section: str, key: str, kind: type, lo: float, hi: float,
           open_lo: bool) -> float | int:
    where = f"{path}: [{section}] {key}"
    table = doc.get(section)
    if not isinstance(table, dict):
        raise CostConfigError(f"{path}: missing table [{section}] (needed for key {key})")
    if key not in table:
        raise CostConfigError(f"{where} is missing")
    v = table[key]
    ok = isinstance(v, int) if kind is int else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok:
        want = "an integer" if kind is int else "a number"
        raise CostConfigError(f"{where} must be {want}, got {type(v).__name__} {v!r}")
    if not math.isfinite(v) or v < lo or v > hi or (open_lo and v == lo):
        rng = f"{'>' if open_lo else '>='} {lo}" + ("" if hi == math.inf else f" and <= {hi}")
        raise CostConfigError(f"{where} = {v!r} is out of range (must be {rng})")
    return kind(v)


def load_cost_config(path: str | Path) -> CostConfig:
    """Read and check a cost config; every error names the file, the table and the key."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CostConfigError(f"{path}: no such cost config file") from None
    except tomllib.TOMLDecodeError as e:
        raise CostConfigError(f"{path}: not valid TOML: {e}") from None
    return CostConfig(**{name: _value(path, doc, *spec) for name, spec in _SCHEMA.items()})


def yearly_volume(cfg: CostConfig) -> tuple[float, float]:
    """(raw GB per year, segments per year) of the monitored beds."""
    samples = (cfg.beds * cfg.monitored_share * cfg.hours_per_day * SECONDS_PER_HOUR
               * DAYS_PER_YEAR * cfg.sampling_rate_hz)
    return samples * cfg.bits_per_sample / 8 / BYTES_PER_GB, samples / cfg.segment_samples


def _row(cfg: CostConfig, model: str, ingress_gb: float, stored_gb: float, decoded: float,
         rate: float) -> dict:
    storage = stored_gb * cfg.retention_months * cfg.price_per_gb_month
    vcpu_h = decoded / rate / SECONDS_PER_HOUR if decoded else 0.0
    transfer = (ingress_gb * cfg.ingress_price_per_gb
                + cfg.review_share * stored_gb * cfg.retrieval_price_per_gb)
    compute = vcpu_h * cfg.price_per_vcpu_hour
    return {"model": model, "ingress_gb": ingress_gb, "stored_gb_per_year": stored_gb,
            "decoded_segments": decoded, "vcpu_hours": vcpu_h, "storage": storage,
            "compute": compute, "transfer": transfer, "total": storage + compute + transfer}


def _check_cg(name: str, cg: float) -> float:
    if not (isinstance(cg, (int, float)) and math.isfinite(cg) and cg > 0):
        raise ValueError(f"{name} must be a compression gain > 0 (raw bits / sent bits), got {cg!r}")
    return float(cg)


def yearly_costs(cfg: CostConfig, cg_bits_lossless: float, cg_bits_dynamic: float,
                 decode_segments_per_cpu_s: float | None = None) -> list[dict]:
    """One row per model: GB, decoded segments, vCPU-hours, storage / compute / transfer / total
    cost per year, and savings_vs_raw_pct.

    cg_bits_*: compression gains measured in bits, i.e. bits_per_sample * segment_samples over the
    mean bits actually sent per segment (every header and fallback included), not a latent-length
    ratio. decode_segments_per_cpu_s: Dynamic-Deep's measured decoder throughput, overriding the
    config's dynamic_decode_segments_per_cpu_s when given."""
    cg_l = _check_cg("cg_bits_lossless", cg_bits_lossless)
    cg_d = _check_cg("cg_bits_dynamic", cg_bits_dynamic)
    rate_d = cfg.dynamic_decode_segments_per_cpu_s if decode_segments_per_cpu_s is None \
        else float(decode_segments_per_cpu_s)
    if not (math.isfinite(rate_d) and rate_d > 0):
        raise ValueError(f"decode_segments_per_cpu_s must be > 0, got {decode_segments_per_cpu_s!r}")
    raw_gb, segs = yearly_volume(cfg)
    x = cfg.review_share
    rows = [
        _row(cfg, "raw", raw_gb, raw_gb, 0.0, 1.0),
        _row(cfg, "lossless", raw_gb / cg_l, raw_gb / cg_l, (1 + x) * segs,
             cfg.lossless_decode_segments_per_cpu_s),
        _row(cfg, "dynamic", raw_gb / cg_d, raw_gb / cg_d, (1 + x) * segs, rate_d),
        _row(cfg, "dynamic+uncompressed", raw_gb + raw_gb / cg_d, raw_gb / cg_d, x * segs, rate_d),
    ]
    base = rows[0]["total"]
    for r in rows:
        r["savings_vs_raw_pct"] = 100.0 * (1 - r["total"] / base) if base > 0 else 0.0
    return rows


COLUMNS = ("model", "ingress_gb", "stored_gb_per_year", "decoded_segments", "vcpu_hours",
           "storage", "compute", "transfer", "total", "savings_vs_raw_pct")


def write_cost_csv(rows: list[dict], path: str | Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def format_table(rows: list[dict]) -> str:
    head = ("model", "ingress GB", "stored GB/y", "vCPU-h", "storage", "compute", "transfer",
            "total", "saving")
    lines = [f"{head[0]:<22}" + "".join(f"{h:>13}" for h in head[1:])]
    for r in rows:
        vals = (r["ingress_gb"], r["stored_gb_per_year"], r["vcpu_hours"], r["storage"],
                r["compute"], r["transfer"], r["total"])
        lines.append(f"{r['model']:<22}" + "".join(f"{v:>13,.2f}" for v in vals)
                     + f"{r['savings_vs_raw_pct']:>12.1f}%")
    return "\n".join(lines)


EXAMPLE_CONFIG = Path(__file__).with_name("ecg_cost.toml")


def gains_from_bench(path: str | Path, task: str = "rhythm", bound: float = 0.75) -> tuple[float, float]:
    """(lossless, dynamic) average CG in bits from a bench-ecg CSV; errors name the file and the row."""
    path = Path(path)
    try:
        rows = list(csv.DictReader(open(path, newline="")))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such bench CSV (make bench-ecg writes results/ecg_dynamic.csv)") from None

    def pick(method: str, want_bound: bool) -> float:
        for r in rows:
            if r.get("method") == method and (not want_bound or (r.get("task") == task and r.get("bound")
                                                                  and math.isclose(float(r["bound"]), bound))):
                try:
                    return float(r["avg_cg_bits"])
                except (KeyError, ValueError):
                    raise ValueError(f"{path}: row {method} has no numeric avg_cg_bits") from None
        what = f"method {method}" + (f", task {task}, bound {bound:g}" if want_bound else "")
        raise ValueError(f"{path}: no row with {what}")

    return pick("lossless", False), pick("dynamic", True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m toolchain.codecs.ecg_dynamic.cost",
                                 description="Yearly cloud cost of streaming ECG per operational model "
                                             "(costs in the config's currency).")
    ap.add_argument("--config", default=str(EXAMPLE_CONFIG),
                    help="cost config TOML (default: the shipped example, whose numbers are placeholders)")
    ap.add_argument("--cg-lossless", type=float, default=None,
                    help="lossless compression gain in bits (raw bits / sent bits)")
    ap.add_argument("--cg-dynamic", type=float, default=None,
                    help="Dynamic-Deep compression gain in bits (raw bits / sent bits)")
    ap.add_argument("--from-bench", type=Path, default=None, metavar="CSV",
                    help="take both gains from a bench-ecg CSV (results/ecg_dynamic.csv): the 'lossless' "
                         "row and the 'dynamic' row of --task at --bound")
    ap.add_argument("--task", default="rhythm", help="with --from-bench: the bounded task (default rhythm)")
    ap.add_argument("--bound", type=float, default=0.75, help="with --from-bench: the bound (default 0.75)")
    ap.add_argument("--decode-rate", type=float, default=None,
                    help="measured Dynamic-Deep decode throughput, segments per vCPU-second "
                         "(default: the config's)")
    ap.add_argument("--csv", default=None, help="also write the rows to this CSV")
    a = ap.parse_args(argv)
    try:
        if a.from_bench is not None:
            lossless, dynamic = gains_from_bench(a.from_bench, a.task, a.bound)
            a.cg_lossless = lossless if a.cg_lossless is None else a.cg_lossless
            a.cg_dynamic = dynamic if a.cg_dynamic is None else a.cg_dynamic
        if a.cg_lossless is None or a.cg_dynamic is None:
            raise ValueError("give --cg-lossless and --cg-dynamic, or --from-bench CSV")
        cfg = load_cost_config(a.config)
        rows = yearly_costs(cfg, a.cg_lossless, a.cg_dynamic, a.decode_rate)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    raw_gb, segs = yearly_volume(cfg)
    print(f"{raw_gb:,.1f} GB raw and {segs:,.0f} segments per year; CG lossless {a.cg_lossless:g}, "
          f"dynamic {a.cg_dynamic:g}")
    print(format_table(rows))
    if a.csv:
        write_cost_csv(rows, a.csv)
        print(f"wrote {a.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
