"""Is a candidate network worth training on this board? (Starfish's NAS steps 2 and 6.)

An untrained candidate is converted to int8 TFLite, our int8 C generator (toolchain.nn.codegen)
sizes its arena (RAM) and weights (flash, or RAM on boards that run from RAM such as the K210),
and on a board with a KPU the placement checker (toolchain.kendryte.kpu) says which layers the
KPU runs. A candidate is rejected, with every reason, when it does not fit or when it leaves the
accelerator mostly idle (share of compute layers on the KPU below ``min_kpu_share``). nncase 1.9,
when ``detect_nncase`` finds it and ``nncase=True``, compiles it as an extra check.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["Budget", "Feasibility", "check"]


@dataclass(frozen=True)
class Budget:
    """What a model may use on a board.

    ram_bytes: RAM left for the arena (and for the weights when ``weights_in_ram``);
    flash_bytes: flash for the weights (None: no flash limit, weights go to RAM);
    kpu_ram_bytes: the accelerator's own RAM, None on boards without a KPU (no KPU check)."""

    name: str
    ram_bytes: int
    flash_bytes: int | None = None
    weights_in_ram: bool = False
    kpu_ram_bytes: int | None = None
    min_kpu_share: float = 0.5

    @classmethod
    def from_board(cls, board: str, *, ram_fraction: float = 1.0, flash_fraction: float = 1.0,
                   min_kpu_share: float = 0.5, targets_dir: Path | None = None) -> "Budget":
        """The budget a targets/<board>/board.toml [memory] table gives: RAM minus the stack
        reserve, the usable flash; the fractions leave room for the firmware around the model.
        A board without flash (the K210 loads its whole image to RAM) keeps weights in RAM."""
        from toolchain.boards import load_board
        b = load_board(board, targets_dir)
        if b.ram_bytes is None:
            raise ValueError(f"board {board!r} has no [memory] ram_bytes in {b.dir / 'board.toml'}")
        ram = int((b.ram_bytes - b.stack_reserve_bytes) * ram_fraction)
        flash = None if b.flash_limit is None else int(b.flash_limit * flash_fraction)
        kpu = b.raw.get("memory", {}).get("kpu_ram_bytes")
        return cls(board, ram, flash, weights_in_ram=flash is None, kpu_ram_bytes=kpu,
                   min_kpu_share=min_kpu_share)


@dataclass
class Feasibility:
    ok: bool
    reasons: list[str] = field(default_factory=list)   # why not (empty when ok)
    arena_bytes: int | None = None                     # activations (RAM), from generate_nn
    weight_bytes: int | None = None                    # weights (flash, or RAM)
    kpu_share: float | None = None                     # KPU layers / compute layers (None: no KPU)
    kpu_mac_share: float | None = None                 # KPU MACs / all MACs
    details: dict = field(default_factory=dict)        # kpu_summary, nncase result, budget

    def as_attrs(self) -> dict:
        """JSON-able fields for Optuna user attrs."""
        return {"feasible": self.ok, "infeasible_reasons": list(self.reasons), "arena_bytes": self.arena_bytes,
                "weight_bytes": self.weight_bytes, "kpu_share": self.kpu_share, "kpu_mac_share": self.kpu_mac_share}


def _kpu_check(tfl: bytes, budget: Budget, fz: Feasibility) -> None:
    from dataclasses import replace

    from toolchain.kendryte.kpu import KPU_LIMITS, kpu_summary, place_model
    placements = place_model(tfl, replace(KPU_LIMITS, ram_bytes=budget.kpu_ram_bytes))
    summ = kpu_summary(placements)
    compute = summ["kpu_layers"] + summ["cpu_layers"]
    fz.kpu_share = summ["kpu_layers"] / compute if compute else 0.0
    fz.kpu_mac_share = summ["kpu_mac_share"]
    fz.details["kpu"] = summ
    if fz.kpu_share < budget.min_kpu_share:
        cpu = [f"{p.index}:{p.op}" for p in placements if p.placement == "CPU"]
        fz.reasons.append(f"KPU idle: {summ['kpu_layers']}/{compute} compute layers on the KPU "
                          f"({fz.kpu_share:.0%} < {budget.min_kpu_share:.0%}); CPU layers: {', '.join(cpu)}")


def _nncase_check(model, rep: np.ndarray, fz: Feasibility, work: Path) -> None:
    from toolchain.kendryte.nncase_stage import NncaseError, compile_kmodel, detect_nncase
    st = detect_nncase()
    if st.k210_python is None:
        fz.details["nncase"] = f"skipped: {st.k210_missing}"
        return
    from toolchain.train.zoo.common import _tf
    tf = _tf()
    flt = work / "float.tflite"
    flt.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    try:
        compile_kmodel(flt, rep[:16], "k210", work / "model.kmodel", status=st)
        fz.details["nncase"] = f"compiled with nncase {st.k210_nncase}"
    except NncaseError as e:
        fz.reasons.append(f"nncase {st.k210_nncase} failed: {str(e).splitlines()[-1] if str(e) else e}")


def check(candidate_keras_model_fn: Callable[[], object], rep_data: np.ndarray, budget: Budget, *,
          nncase: bool = False, work_dir: Path | None = None) -> Feasibility:
    """Convert the (untrained) candidate to int8 and check it against ``budget``.

    candidate_keras_model_fn: builds a batch-1 Keras model; rep_data: float inputs without the
    batch axis (a few suffice: weights are untrained, only shapes and ops matter)."""
    from toolchain.nn.codegen import generate_nn
    from toolchain.train.zoo.common import convert_int8
    fz = Feasibility(ok=False, details={"budget": budget.name})
    model = candidate_keras_model_fn()
    try:
        tfl = convert_int8(model, np.asarray(rep_data, dtype=np.float32))
    except Exception as e:  # noqa: BLE001 - a candidate TFLite cannot convert is infeasible
        fz.reasons.append(f"int8 conversion failed: {type(e).__name__}: {e}")
        return fz
    with tempfile.TemporaryDirectory(prefix="nas-", dir=work_dir) as td:
        work = Path(td)
        try:
            gen = generate_nn(tfl, work / "c", name="nas_candidate")
        except Exception as e:  # noqa: BLE001 - UnsupportedModelError and friends
            fz.reasons.append(f"int8 C generator: {type(e).__name__}: {e}")
            return fz
        fz.arena_bytes, fz.weight_bytes = gen.arena_bytes, gen.weight_bytes
        ram_need = gen.arena_bytes + (gen.weight_bytes if budget.weights_in_ram else 0)
        if ram_need > budget.ram_bytes:
            what = "arena + weights" if budget.weights_in_ram else "arena"
            fz.reasons.append(f"RAM: {what} {ram_need} B > {budget.ram_bytes} B on {budget.name}")
        if budget.flash_bytes is not None and gen.weight_bytes > budget.flash_bytes:
            fz.reasons.append(f"flash: weights {gen.weight_bytes} B > {budget.flash_bytes} B on {budget.name}")
        if budget.kpu_ram_bytes is not None:
            _kpu_check(tfl, budget, fz)
        if nncase and budget.kpu_ram_bytes is not None:
            _nncase_check(model, np.asarray(rep_data, dtype=np.float32), fz, work)
    fz.ok = not fz.reasons
    return fz
