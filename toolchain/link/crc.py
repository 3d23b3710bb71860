"""CRC-16/CCITT-FALSE, the frame check of the link (firmware twin: tc_crc16 in tc_frame.c)."""
from __future__ import annotations

import binascii

CRC16_INIT = 0xFFFF


def crc16_ccitt_false(data: bytes, crc: int = CRC16_INIT) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0.

    Pass a previous result as ``crc`` to continue over more data. binascii.crc_hqx
    is the same non-reflected 0x1021 register (CRC-16/XMODEM is it with init 0), in C.
    """
    if not 0 <= crc <= 0xFFFF:
        raise ValueError(f"crc16_ccitt_false: start value {crc!r} is not a 16-bit value")
    return binascii.crc_hqx(data, crc)
