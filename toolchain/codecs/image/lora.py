"""LoRa for images: time on air, EU868 payload limits, packets of an image, loss, radio energy.

Time on air (Semtech SX1276/77/78/79 data sheet rev. 7, sec. 4.1.1.7; AN1200.13 "LoRa Modem
Designer's Guide"):

    T_sym      = 2^SF / BW
    T_preamble = (n_preamble + 4.25) T_sym                        (n_preamble = 8)
    n_payload  = 8 + max(ceil((8 PL - 4 SF + 28 + 16 CRC - 20 IH) / (4 (SF - 2 DE))) (CR + 4), 0)
    T_packet   = T_preamble + n_payload T_sym

with PL the PHY payload in bytes, explicit header (IH = 0), CRC on (CRC = 1), CR = 1..4 for the
coding rates 4/5..4/8, and DE = 1 (low data rate optimisation) when T_sym exceeds 16 ms, the data
sheet's rule: SF11 and SF12 at 125 kHz (and SF12 at 250 kHz). The formula itself lives in
toolchain.bench.energy.lora_time_on_air_s, which the rest of tinycodec's energy figures use;
this module checks the arguments and calls it, so there is one formula.

Payload limits: LoRaWAN Regional Parameters (RP002-1.0.x), EU863-870 "maximum payload size",
N (the application payload, FRMPayload, without FOpts): DR0-2 (SF12-SF10 / 125 kHz) 51 B, DR3
(SF9) 115 B, DR4-5 (SF8, SF7) 242 B, DR6 (SF7 / 250 kHz) 242 B. A LoRaWAN uplink adds 13 bytes
around it on air (MHDR 1, DevAddr 4, FCtrl 1, FCnt 2, FPort 1, MIC 4; LoRaWAN 1.0.x sec. 4), so
LoRaLink counts PL = application bytes + 13 (lorawan_overhead=0 for a raw LoRa link).

Image packets (this module's layout; every multi-byte field little-endian):

    offset 0  image_id  u16   which image (wraps at 65536)
    offset 2  index     u8    this packet's position, 0..count-1
    offset 3  count     u8    packets of the image (1..255)
    offset 4  data            at most payload_bytes - 4 bytes of the image's byte string

The 4-byte header is what lets a receiver that lost packets know which ones, and place the rest.

Loss: i.i.d. drops, and the Gilbert(-Elliott) two-state channel for bursts: a good state G and a
bad state B, P(G->B) = p, P(B->G) = r, drop probability loss_good in G and loss_bad in B. With
loss_good = 0 and loss_bad = 1 the mean loss rate is p / (p + r) and bursts last 1 / r packets
on average, which is how gilbert_elliott_params sets p and r. Masks are seeded numpy draws.

Energy: V * I_tx * time on air per packet, with V and I_tx from a board's radio
(targets/<board>/board.toml [energy] radio -> targets/radios.toml) or given as parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

import numpy as np

from ...bench.energy import Radio, get_radio, lora_time_on_air_s

SPREADING_FACTORS = (7, 8, 9, 10, 11, 12)
BANDWIDTHS_HZ = (125_000, 250_000)
CODING_RATES = {1: "4/5", 2: "4/6", 3: "4/7", 4: "4/8"}
PREAMBLE_SYMBOLS = 8
LDRO_SYMBOL_S = 0.016
LORAWAN_OVERHEAD_BYTES = 13
# EU863-870 data rates: DR -> (SF, BW in Hz, maximum application payload N in bytes)
EU868_DATA_RATES: dict[int, tuple[int, int, int]] = {
    0: (12, 125_000, 51), 1: (11, 125_000, 51), 2: (10, 125_000, 51), 3: (9, 125_000, 115),
    4: (8, 125_000, 242), 5: (7, 125_000, 242), 6: (7, 250_000, 242),
}
REGIONS = ("EU868",)

HEADER = 4
MAX_PACKETS = 255
MAX_IMAGE_ID = 0xFFFF


class PacketError(ValueError):
    """A packet list that cannot be made or put back together (too long, malformed, mixed)."""


def _check_radio_params(sf: int, bw_hz: float, cr: int) -> None:
    if sf not in SPREADING_FACTORS:
        raise ValueError(f"spreading factor {sf!r}: one of {', '.join(map(str, SPREADING_FACTORS))}")
    if bw_hz not in BANDWIDTHS_HZ:
        raise ValueError(f"bandwidth {bw_hz!r} Hz: one of {', '.join(map(str, BANDWIDTHS_HZ))}")
    if cr not in CODING_RATES:
        raise ValueError(f"coding rate {cr!r}: 1..4 for {', '.join(CODING_RATES.values())}")


def symbol_time_s(sf: int, bw_hz: float = 125_000) -> float:
    """2^SF / BW."""
    _check_radio_params(sf, bw_hz, 1)
    return (1 << sf) / bw_hz


def low_data_rate_optimize(sf: int, bw_hz: float = 125_000) -> bool:
    """The data sheet's rule: on when a symbol lasts more than 16 ms."""
    return symbol_time_s(sf, bw_hz) > LDRO_SYMBOL_S


def time_on_air_s(phy_payload_bytes: int, sf: int, bw_hz: float = 125_000, cr: int = 1,
                  preamble: int = PREAMBLE_SYMBOLS) -> float:
    """Seconds on air of one LoRa packet with that PHY payload (explicit header, CRC on)."""
    _check_radio_params(sf, bw_hz, cr)
    if isinstance(phy_payload_bytes, bool) or not isinstance(phy_payload_bytes, (int, np.integer)) \
            or not 0 <= phy_payload_bytes <= 255:
        raise ValueError(f"PHY payload {phy_payload_bytes!r} B: 0..255 (the SX1276 FIFO's limit)")
    return lora_time_on_air_s(int(phy_payload_bytes), sf, bw_hz, cr, preamble, explicit_header=True, crc=True)


def max_payload(sf: int, bw_hz: float = 125_000, region: str = "EU868") -> int:
    """The region's largest application payload at that spreading factor and bandwidth."""
    if region not in REGIONS:
        raise ValueError(f"region {region!r}: only {', '.join(REGIONS)} is tabulated")
    _check_radio_params(sf, bw_hz, 1)
    for dr_sf, dr_bw, n in EU868_DATA_RATES.values():
        if (dr_sf, dr_bw) == (sf, bw_hz):
            return n
    names = ", ".join(f"SF{s}/{b // 1000} kHz" for s, b, _ in EU868_DATA_RATES.values())
    raise ValueError(f"SF{sf} at {bw_hz / 1000:g} kHz is no {region} data rate (those are {names})")


def duty_cycle_off_s(airtime_s: float, duty_cycle: float = 0.01) -> float:
    """Silence a sender owes after `airtime_s` on air under a duty-cycle limit (EU868 g1: 1 %)."""
    if not 0 < duty_cycle <= 1:
        raise ValueError(f"duty cycle {duty_cycle!r}: a fraction in (0, 1]")
    return airtime_s * (1.0 / duty_cycle - 1.0)


@dataclass(frozen=True)
class LoRaLink:
    """One link configuration: radio settings, the payload limit, and (for energy) the transmitter.

    payload_bytes defaults to the EU868 limit of (sf, bw_hz). voltage_v and tx_a are needed only
    for energy; from_board / from_radio fill them from the board and radio files.
    """

    sf: int = 7
    bw_hz: int = 125_000
    cr: int = 1
    preamble: int = PREAMBLE_SYMBOLS
    payload_bytes: int = 0          # 0: max_payload(sf, bw_hz)
    lorawan_overhead: int = LORAWAN_OVERHEAD_BYTES
    voltage_v: float | None = None
    tx_a: float | None = None
    source: str = "parameters"

    def __post_init__(self) -> None:
        _check_radio_params(self.sf, self.bw_hz, self.cr)
        if self.payload_bytes == 0:
            object.__setattr__(self, "payload_bytes", max_payload(self.sf, self.bw_hz))
        if not HEADER < self.payload_bytes <= 255 - self.lorawan_overhead:
            raise ValueError(f"payload {self.payload_bytes} B: more than the {HEADER}-byte image packet header "
                             f"and at most {255 - self.lorawan_overhead} B with {self.lorawan_overhead} B of "
                             "LoRaWAN framing")

    @classmethod
    def from_radio(cls, radio: Radio | str, **overrides) -> "LoRaLink":
        """A link with the settings of a targets/radios.toml LoRa radio."""
        r = get_radio(radio) if isinstance(radio, str) else radio
        if r.kind != "lora":
            raise ValueError(f"radio {r.name} is kind {r.kind!r}, not a LoRa radio (targets/radios.toml)")
        args = dict(sf=r.sf, bw_hz=int(r.bw_hz), cr=r.cr, preamble=r.preamble, payload_bytes=r.max_payload,
                    voltage_v=r.voltage_v, tx_a=r.tx_a, source=f"targets/radios.toml [{r.name}]")
        args.update(overrides)
        return cls(**args)

    @classmethod
    def from_board(cls, board: str, **overrides) -> "LoRaLink":
        """The link of a board whose [energy] table names a LoRa radio."""
        from ...boards import load_board
        b = load_board(board)
        if not b.radio:
            raise ValueError(f"board {board} names no radio ([energy] radio in targets/{board}/board.toml); "
                             "build a LoRaLink from parameters (sf, bw_hz, cr, voltage_v, tx_a) instead")
        link = cls.from_radio(b.radio, **overrides)
        return link if "source" in overrides else replace(link, source=f"targets/{board}/board.toml -> {link.source}")

    @property
    def data_per_packet(self) -> int:
        """Image bytes one packet carries after the 4-byte header."""
        return self.payload_bytes - HEADER

    def packet_airtime_s(self, app_bytes: int) -> float:
        """Time on air of one packet carrying `app_bytes` of application payload."""
        if app_bytes > self.payload_bytes:
            raise ValueError(f"{app_bytes} B is over this link's {self.payload_bytes}-byte payload limit")
        return time_on_air_s(app_bytes + self.lorawan_overhead, self.sf, self.bw_hz, self.cr, self.preamble)

    def airtime_s(self, packets: Iterable[bytes | int]) -> float:
        """Total time on air of the packets (bytes objects or their lengths)."""
        return sum(self.packet_airtime_s(p if isinstance(p, int) else len(p)) for p in packets)

    def energy_j(self, packets: Iterable[bytes | int]) -> float:
        """Transmit energy of the packets: V * I_tx * time on air."""
        if self.voltage_v is None or self.tx_a is None:
            raise ValueError("this LoRaLink has no voltage_v / tx_a: use LoRaLink.from_board / from_radio, "
                             "or pass them as parameters")
        return self.voltage_v * self.tx_a * self.airtime_s(packets)

    def airtime_for_bytes(self, nbytes: int) -> float:
        """Time on air of an nbytes-long code sent with `packetize` (what a codec's bytes cost)."""
        return self.airtime_s(packet_lengths(nbytes, self.payload_bytes))


# ------------------------------------------------------------------------------ packets

def packet_lengths(nbytes: int, payload_bytes: int) -> list[int]:
    """Lengths of the packets `packetize` makes of an nbytes-long string (at least one packet)."""
    per = payload_bytes - HEADER
    if per < 1:
        raise PacketError(f"payload {payload_bytes} B leaves no room after the {HEADER}-byte header")
    n = max(1, math.ceil(nbytes / per))
    if n > MAX_PACKETS:
        raise PacketError(f"{nbytes} B need {n} packets of {payload_bytes} B, over the {MAX_PACKETS} the "
                          "u8 count field allows")
    return [HEADER + min(per, nbytes - i * per) for i in range(n)]


def packet_header(image_id: int, index: int, count: int) -> bytes:
    if not 0 <= image_id <= MAX_IMAGE_ID:
        raise PacketError(f"image id {image_id}: 0..{MAX_IMAGE_ID}")
    if not 1 <= count <= MAX_PACKETS or not 0 <= index < count:
        raise PacketError(f"packet {index} of {count}: need 0 <= index < count <= {MAX_PACKETS}")
    return image_id.to_bytes(2, "little") + bytes((index, count))


def parse_header(packet: bytes) -> tuple[int, int, int, bytes]:
    """(image_id, index, count, data) of one packet."""
    if len(packet) < HEADER:
        raise PacketError(f"a {len(packet)}-byte packet is shorter than the {HEADER}-byte header")
    image_id = int.from_bytes(packet[:2], "little")
    index, count = packet[2], packet[3]
    if count == 0 or index >= count:
        raise PacketError(f"packet header says index {index} of {count} packets")
    return image_id, index, count, bytes(packet[HEADER:])


def packetize(data: bytes, image_id: int, payload_bytes: int) -> list[bytes]:
    """`data` cut into packets of at most payload_bytes, each with the 4-byte header."""
    lengths = packet_lengths(len(data), payload_bytes)
    per = payload_bytes - HEADER
    return [packet_header(image_id, i, len(lengths)) + data[i * per:(i + 1) * per] for i in range(len(lengths))]


@dataclass
class Reassembled:
    """What a receiver has of one image: its packets by index, and which are missing."""

    image_id: int
    count: int
    parts: dict[int, bytes] = field(default_factory=dict)

    @property
    def missing(self) -> list[int]:
        return [i for i in range(self.count) if i not in self.parts]

    @property
    def complete(self) -> bool:
        return len(self.parts) == self.count

    @property
    def data(self) -> bytes:
        """The byte string; only when complete (PacketError names the missing packets otherwise)."""
        if not self.complete:
            raise PacketError(f"image {self.image_id}: packets {self.missing} of {self.count} are missing")
        return b"".join(self.parts[i] for i in range(self.count))


def depacketize(packets: Iterable[bytes]) -> Reassembled:
    """Put one image's received packets (any order, duplicates allowed) back together."""
    out: Reassembled | None = None
    for p in packets:
        image_id, index, count, data = parse_header(p)
        if out is None:
            out = Reassembled(image_id, count)
        elif (image_id, count) != (out.image_id, out.count):
            raise PacketError(f"packet {index} belongs to image {image_id} ({count} packets), not to image "
                              f"{out.image_id} ({out.count} packets)")
        if index in out.parts and out.parts[index] != data:
            raise PacketError(f"image {image_id}: two different packets with index {index}")
        out.parts[index] = data
    if out is None:
        raise PacketError("no packets received: nothing says which image or how many packets")
    return out


# ------------------------------------------------------------------------------ loss

def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def iid_loss(n: int, rate: float, seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """(n,) bool, True = lost: each packet dropped independently with probability `rate`."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"loss rate {rate!r}: a probability in [0, 1]")
    return _rng(seed).random(n) < rate


def gilbert_elliott_params(loss_rate: float, mean_burst: float) -> tuple[float, float]:
    """(p, r) of the Gilbert channel (loss 0 in G, 1 in B) with that mean loss rate and mean
    burst length in packets."""
    if not 0.0 < loss_rate < 1.0:
        raise ValueError(f"loss rate {loss_rate!r}: in (0, 1) for a bursty channel")
    if mean_burst < 1.0:
        raise ValueError(f"mean burst {mean_burst!r} packets: at least 1")
    r = 1.0 / mean_burst
    p = r * loss_rate / (1.0 - loss_rate)
    if p > 1.0:
        raise ValueError(f"loss rate {loss_rate} with bursts of {mean_burst} packets needs P(G->B) = {p:.3f} > 1: "
                         "use longer bursts")
    return p, r


def gilbert_elliott_loss(n: int, p: float, r: float, loss_good: float = 0.0, loss_bad: float = 1.0,
                         seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """(n,) bool, True = lost, from the two-state channel; the first state is drawn from the
    stationary distribution, so short masks are not biased toward G."""
    for name, v in (("p", p), ("r", r), ("loss_good", loss_good), ("loss_bad", loss_bad)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"Gilbert-Elliott {name} = {v!r}: a probability in [0, 1]")
    if p + r == 0.0:
        raise ValueError("Gilbert-Elliott p = r = 0: the channel never changes state and has no stationary start")
    rng = _rng(seed)
    u_state, u_loss = rng.random(n), rng.random(n)
    lost = np.zeros(n, dtype=bool)
    bad = u_state[0] < p / (p + r) if n else False
    for i in range(n):
        if i:
            bad = u_state[i] >= r if bad else u_state[i] < p
        lost[i] = u_loss[i] < (loss_bad if bad else loss_good)
    return lost


def loss_mask(n: int, rate: float, model: str = "iid", mean_burst: float = 3.0,
              seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """iid_loss or a Gilbert burst channel with the same mean loss rate (model="burst")."""
    if model == "iid":
        return iid_loss(n, rate, seed)
    if model == "burst":
        if rate == 0.0:
            return np.zeros(n, dtype=bool)
        if rate == 1.0:
            return np.ones(n, dtype=bool)
        return gilbert_elliott_loss(n, *gilbert_elliott_params(rate, mean_burst), seed=seed)
    raise ValueError(f"loss model {model!r}: 'iid' or 'burst'")


def deliver(packets: Sequence[bytes], lost: np.ndarray) -> list[bytes]:
    """The packets that arrive when `lost` (bool per packet) says which are dropped."""
    if len(lost) != len(packets):
        raise ValueError(f"{len(lost)} loss flags for {len(packets)} packets")
    return [p for p, gone in zip(packets, lost) if not gone]
