"""Driver for the multi-parameter spectrophotometric analyzer over Modbus RTU or TCP (pymodbus client).

Loop: read the FIFO head (input registers 0x0100…0x011F); check its record CRC; yield the result; after
it is stored write its sequence number to the acknowledge registers (0x0200, function 16), which brings
the next result to the head. A lost answer, a garbled frame or a busy reply means: ask again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from instrument_drivers.base import Driver, Unit
from instrument_drivers.errors import LinkError
from instrument_drivers.protocols import spectro as regmap
from instrument_drivers.reading import Reading
from instrument_drivers.timers import scaled
from instrument_drivers.transport import ModbusTarget, modbus_client, parse_modbus_url

MAX_ATTEMPTS = 8


class SpectroDriver(Driver):
    family = "spectro"
    default_baud = regmap.DEFAULT_BAUD

    def __init__(self, url: str, **options: object) -> None:
        super().__init__(url, **options)  # type: ignore[arg-type]
        self.target: ModbusTarget = parse_modbus_url(url, self.default_baud, regmap.DEFAULT_UNIT)
        self._client: Any = None
        self.identity: regmap.Identity | None = None

    def _connect(self) -> None:
        timeout = scaled(regmap.RESPONSE_TIMEOUT, self.scale, regmap.RESPONSE_TIMEOUT_FLOOR)
        self._client = modbus_client(self.target, timeout=timeout)
        if not self._client.connect():
            raise LinkError(f"cannot connect to {self.target.describe()}")
        regs = self._call(
            lambda c: c.read_input_registers(
                regmap.REG_DEVICE_TYPE, count=regmap.IDENTITY_COUNT, device_id=self.target.unit
            )
        )
        try:
            self.identity = regmap.Identity.from_registers(regs)
        except regmap.RegisterError as exc:
            raise LinkError(str(exc)) from exc
        self.serial = self.identity.serial

    def _disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _fetch(self, timeout: float) -> Unit | None:
        deadline = time.monotonic() + timeout
        bad_blocks = 0
        while True:
            regs = self._call(
                lambda c: c.read_input_registers(regmap.REG_HEAD, count=regmap.HEAD_COUNT, device_id=self.target.unit)
            )
            try:
                result = regmap.decode_head(regs)
            except regmap.RegisterError as exc:
                bad_blocks += 1
                self.stats["bad_blocks"] += 1
                if bad_blocks >= MAX_ATTEMPTS:
                    raise LinkError(f"FIFO head unreadable {bad_blocks} times: {exc}") from exc
                continue
            if result is not None:
                assert self.serial is not None
                return Unit([reading_from_result(self.serial, result)], token=result.sequence)
            pause = regmap.POLL_INTERVAL * self.scale
            if time.monotonic() + pause >= deadline:
                time.sleep(max(0.0, deadline - time.monotonic()))
                return None
            time.sleep(pause)

    def _release(self, unit: Unit) -> None:
        values = regmap.u32_to_registers(int(unit.token))
        self._call(lambda c: c.write_registers(regmap.REG_ACK, values, device_id=self.target.unit))

    def _call(self, request: Callable[[Any], Any]) -> list[int]:
        """Run one Modbus request until it succeeds; returns its registers (empty for writes)."""
        from pymodbus.exceptions import ModbusException

        client = self._client
        if client is None:
            raise LinkError("not connected")
        last = "no attempt"
        for _attempt in range(MAX_ATTEMPTS):
            try:
                response = request(client)
            except (ModbusException, OSError, ValueError) as exc:
                # a garbled or late frame can leave bytes behind: start the next attempt on a clean line
                last = str(exc)
                self.stats["io_errors"] += 1
                client.close()
                continue
            if response.isError():
                code = getattr(response, "exception_code", 0)
                last = f"exception {code}"
                if code == regmap.EXC_BUSY:
                    self.stats["busy"] += 1
                    time.sleep(0.05 * self.scale)
                    continue
                self.stats["refused"] += 1
                raise LinkError(f"analyzer refused the request: {last}")
            self.stats["frames"] += 1
            return list(getattr(response, "registers", []) or [])
        raise LinkError(f"no valid answer after {MAX_ATTEMPTS} attempts ({last})")


def reading_from_result(serial: str, r: regmap.Result) -> Reading:
    """The reading of one FIFO result."""
    return Reading(
        instrument_serial=serial,
        family=SpectroDriver.family,
        sequence=r.sequence,
        item_code=r.item_code,
        channel=r.channel,
        sample_label_id=r.sample_id or None,
        raw={
            "absorbance": r.absorbance,
            "blank": r.blank,
            "dilution": r.dilution,
            "mass_g": r.mass_g,
            "concentration": r.concentration,
            "wavelength_nm": r.wavelength_nm,
        },
        value=r.concentration,
        unit=r.unit,
        judgement=r.judgement,
        instrument_time=r.time,
    )
