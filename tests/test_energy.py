import pytest

from toolchain.boards import load_board
from toolchain.bench.energy import get_radio, lora_time_on_air_s, radio_energy_j, window_energy_uj


@pytest.mark.parametrize("payload, sf, expect_ms", [
    (10, 7, 41.216),     # Semtech LoRa calculator: SF7/125 kHz/CR4-5/8 preamble/explicit header/CRC
    (51, 12, 2465.792),  # SF12 uses low-data-rate optimisation
])
def test_lora_time_on_air_matches_the_semtech_formula(payload, sf, expect_ms):
    assert lora_time_on_air_s(payload, sf) * 1e3 == pytest.approx(expect_ms, abs=1e-3)


def test_lora_fragments_to_the_data_rate_payload_limit():
    r = get_radio("sx1276-sf12")
    one = radio_energy_j(r, 51 * 8)
    tail = r.voltage_v * r.tx_a * lora_time_on_air_s(1, 12)
    assert radio_energy_j(r, 52 * 8) == pytest.approx(one + tail)  # 51 B + a second, 1-byte packet


def test_compression_saves_radio_energy_but_pays_cycles():
    b = load_board("msp430f1611")
    raw, comp = window_energy_uj(raw_bits=512, compressed_bits=100, cycles=0, voltage_v=b.voltage_v,
                                 active_current_a=b.active_current_a, clock_hz=b.clock_hz,
                                 radio=get_radio("cc2420"))
    assert comp == pytest.approx(raw * 100 / 512)
    _, comp2 = window_energy_uj(raw_bits=512, compressed_bits=100, cycles=1e6, voltage_v=b.voltage_v,
                                active_current_a=b.active_current_a, clock_hz=b.clock_hz,
                                radio=get_radio("cc2420"))
    assert comp2 - comp == pytest.approx(1e6 * 3.0 * 2.1e-3 / b.clock_hz * 1e6)


def test_every_board_names_a_known_radio():
    from toolchain.boards import list_boards
    for name in list_boards():
        b = load_board(name)
        if b.radio is not None:
            assert get_radio(b.radio).name == b.radio
