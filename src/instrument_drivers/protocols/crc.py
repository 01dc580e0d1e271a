"""Checksums used on the wire: CRC-8 (poly 0x31) and CRC-16/MODBUS."""

from __future__ import annotations


def _crc8_table(poly: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC8_31 = _crc8_table(0x31)


def crc8(data: bytes, init: int = 0x00) -> int:
    """CRC-8, polynomial x^8+x^5+x^4+1 (0x31), MSB first, no reflection, no final XOR."""
    crc = init
    for byte in data:
        crc = _CRC8_31[crc ^ byte]
    return crc


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC16_MODBUS = _crc16_table()


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF); sent low byte first in RTU frames."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC16_MODBUS[(crc ^ byte) & 0xFF]
    return crc
