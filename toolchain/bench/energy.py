"""Energy per window from the board and radio files (targets/<board>/board.toml, targets/radios.toml)."""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache

from .. import paths

RADIOS_FILE = paths.targets_dir() / "radios.toml"


@dataclass(frozen=True)
class Radio:
    name: str
    kind: str
    voltage_v: float
    tx_a: float
    rx_a: float = 0.0
    bitrate_bps: float = 0.0
    sf: int = 7
    bw_hz: float = 125000.0
    cr: int = 1
    preamble: int = 8
    max_payload: int = 255
    source: str = ""


@lru_cache(maxsize=None)
def radios() -> dict[str, Radio]:
    with open(RADIOS_FILE, "rb") as f:
        raw = tomllib.load(f)
    return {k: Radio(name=k, **v) for k, v in raw.items()}


def get_radio(name: str) -> Radio:
    r = radios()
    if name not in r:
        raise KeyError(f"unknown radio {name!r}; targets/radios.toml defines: {', '.join(sorted(r))}")
    return r[name]


def lora_time_on_air_s(payload_bytes: int, sf: int, bw_hz: float = 125000.0, cr: int = 1,
                       preamble: int = 8, explicit_header: bool = True, crc: bool = True) -> float:
    """Semtech SX1276 data sheet time-on-air; low-data-rate optimisation when T_sym > 16 ms."""
    t_sym = (1 << sf) / bw_hz
    de = 1 if t_sym > 0.016 else 0
    ih = 0 if explicit_header else 1
    num = 8 * payload_bytes - 4 * sf + 28 + 16 * int(crc) - 20 * ih
    n_payload = 8 + max(math.ceil(num / (4 * (sf - 2 * de))) * (cr + 4), 0)
    return (preamble + 4.25) * t_sym + n_payload * t_sym


def radio_energy_j(radio: Radio, bits: int, with_rx: bool = False) -> float:
    """Energy to send `bits` of payload (one window) over the radio."""
    if radio.kind == "bitrate":
        i = radio.tx_a + (radio.rx_a if with_rx else 0.0)
        return radio.voltage_v * i * bits / radio.bitrate_bps
    if radio.kind == "lora":
        nbytes = (bits + 7) // 8
        e, left = 0.0, max(nbytes, 1)
        while left > 0:  # fragments of at most the data rate's LoRaWAN payload
            chunk = min(left, radio.max_payload)
            e += radio.voltage_v * radio.tx_a * lora_time_on_air_s(chunk, radio.sf, radio.bw_hz,
                                                                   radio.cr, radio.preamble)
            left -= chunk
        return e
    raise ValueError(f"radio {radio.name}: unknown kind {radio.kind!r} (bitrate | lora)")


def mcu_energy_per_cycle_j(voltage_v: float, active_current_a: float, clock_hz: float) -> float:
    return voltage_v * active_current_a / clock_hz


def window_energy_uj(*, raw_bits: int, compressed_bits: float, cycles: float, voltage_v: float,
                     active_current_a: float, clock_hz: float, radio: Radio) -> tuple[float, float]:
    """(raw, compressed) energy per window in microjoules: raw sends every reading uncompressed,
    compressed pays the MCU cycles of the encoder plus the radio for the compressed bits."""
    raw = radio_energy_j(radio, raw_bits)
    comp = (cycles * mcu_energy_per_cycle_j(voltage_v, active_current_a, clock_hz)
            + radio_energy_j(radio, int(math.ceil(compressed_bits))))
    return raw * 1e6, comp * 1e6
