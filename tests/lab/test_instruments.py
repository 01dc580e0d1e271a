"""Instruments: registering one, calibrations that move the due date (one rule, on every path a reading takes),
maintenance, certificates, conditional updates and the audit trail."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from instrument_drivers.reading import Reading
from lims.models import AuditEvent, Instrument, TestResult
from lims.models.instruments import CalibrationRecord
from lims.services.cases.files import Upload
from lims.services.core import clock
from lims.services.core.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from lims.services.lab import file_import, instruments
from lims.services.lab.instruments import CalibrationCreate, InstrumentCreate, InstrumentUpdate, MaintenanceCreate
from lims.services.results import ingest
from tests.core.helpers import NEGATIVE_OPC, register
from tests.lab.files import pesticide_csv, pesticide_row
from tests.web.helpers import actor_of

A_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"


def _today(session: Session) -> date:
    return clock.today_of(session, actor_of(session, "admin").district_id)


def _overdue(session: Session, serial: str = "PR-TEST-01") -> Instrument:
    """A pesticide analyser of the admin's district whose calibration ran out yesterday."""
    admin = actor_of(session, "admin")
    data = InstrumentCreate(
        serial=serial,
        family="pesticide",
        model="8-channel enzyme-inhibition analyzer",
        location="检测车",
        calibration_due=_today(session) - timedelta(days=1),
    )
    row = instruments.add(session, admin, data)
    session.commit()
    return row


def _calibrate(session: Session, serial: str = "PR-TEST-01", **overrides: Any) -> CalibrationRecord:
    today = _today(session)
    body = {
        "calibrated_on": today,
        "performed_by": "x市计量检定测试所",
        "certificate_number": "JD-2026-0415",
        "next_due": today + timedelta(days=365),
        **overrides,
    }
    row = instruments.record_calibration(session, actor_of(session, "admin"), serial, CalibrationCreate(**body))
    session.commit()
    return row


def test_an_administrator_registers_an_instrument_once(session: Session) -> None:
    row = _overdue(session)
    assert (row.location, row.district_id) == ("检测车", actor_of(session, "admin").district_id)
    again = InstrumentCreate(serial="PR-TEST-01", family="pesticide", calibration_due=_today(session))
    with pytest.raises(Conflict):
        instruments.add(session, actor_of(session, "admin"), again)
    with pytest.raises(Invalid) as bad:
        instruments.add(
            session,
            actor_of(session, "admin"),
            InstrumentCreate(serial="X 1", family="pesticide", calibration_due=_today(session)),
        )
    assert bad.value.details["field"] == "serial"
    with pytest.raises(Invalid) as family:
        instruments.add(
            session,
            actor_of(session, "admin"),
            InstrumentCreate(serial="X1", family="ph", calibration_due=_today(session)),
        )
    assert family.value.details["field"] == "family"
    with pytest.raises(Forbidden):
        instruments.add(
            session,
            actor_of(session, "tester"),
            InstrumentCreate(serial="X2", family="gold", calibration_due=_today(session)),
        )


def test_a_calibration_moves_the_due_date_keeps_its_certificate_and_is_audited(session: Session) -> None:
    _overdue(session)
    today = _today(session)
    row = instruments.record_calibration(
        session,
        actor_of(session, "admin"),
        "PR-TEST-01",
        CalibrationCreate(
            calibrated_on=today, performed_by="计量所", certificate_number="JD-1", next_due=today + timedelta(days=365)
        ),
        Upload(A_PDF, "cert.pdf"),
    )
    session.commit()
    instrument = instruments.get(session, actor_of(session, "admin"), "PR-TEST-01")
    assert instrument.calibration_due == today + timedelta(days=365)
    assert row.previous_due == today - timedelta(days=1)
    record, data = instruments.certificate(session, actor_of(session, "admin"), "PR-TEST-01", int(row.id or 0))
    assert (data, record.certificate_type) == (A_PDF, "application/pdf")
    actions = session.exec(select(AuditEvent.entity, AuditEvent.action).where(AuditEvent.action == "calibrate")).all()
    assert set(actions) == {("instrument", "calibrate"), ("instrument_calibration", "calibrate")}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"calibrated_on": "tomorrow"}, "calibrated_on"),
        ({"next_due": "today"}, "next_due"),
        ({"next_due": "in 11 years"}, "next_due"),
    ],
)
def test_a_calibration_with_impossible_dates_is_refused_naming_the_field(
    session: Session, overrides: dict[str, str], field: str
) -> None:
    _overdue(session)
    today = _today(session)
    days = {"tomorrow": today + timedelta(days=1), "today": today, "in 11 years": today + timedelta(days=11 * 366)}
    with pytest.raises(Invalid) as refused:
        _calibrate(session, **{k: days[v] for k, v in overrides.items()})
    assert refused.value.details["field"] == field


def test_a_certificate_must_be_a_bounded_pdf_or_image(session: Session) -> None:
    assert instruments.check_certificate(Upload(A_PDF)) == "application/pdf"
    with pytest.raises(Invalid):
        instruments.check_certificate(Upload(b"GIF89a not accepted"))
    with pytest.raises(TooLarge):
        instruments.check_certificate(Upload(b"%PDF-" + b"0" * instruments.MAX_CERTIFICATE_BYTES))


def test_of_two_calibrations_recorded_at_once_the_second_is_refused(engine: Engine) -> None:
    with Session(engine) as first, Session(engine) as second:
        _overdue(first)
        instruments.get(second, actor_of(second, "admin"), "PR-TEST-01")  # the second form was read here
        second.commit()
        second_admin = actor_of(second, "admin")
        stale = instruments.get(second, second_admin, "PR-TEST-01")
        _calibrate(first)
        assert stale.calibration_due == _today(second) - timedelta(days=1)  # what the second one still holds
        with pytest.raises(Conflict):
            _calibrate(second, next_due=_today(second) + timedelta(days=200))
    with Session(engine) as check:
        assert len(check.exec(select(CalibrationRecord)).all()) == 1


def test_an_instrument_of_another_district_is_not_found(session: Session) -> None:
    _overdue(session)
    stranger = replace(actor_of(session, "admin"), district_id=999)
    with pytest.raises(NotFound):
        instruments.get(session, stranger, "PR-TEST-01")
    with pytest.raises(NotFound):
        instruments.record_calibration(
            session,
            stranger,
            "PR-TEST-01",
            CalibrationCreate(calibrated_on=_today(session), performed_by="x", next_due=_today(session) + timedelta(1)),
        )


def test_maintenance_is_recorded_and_listed(session: Session) -> None:
    _overdue(session)
    instruments.record_maintenance(
        session,
        actor_of(session, "admin"),
        "PR-TEST-01",
        MaintenanceCreate(performed_on=_today(session), performed_by="张工", work="清洁比色池，更换光源"),
    )
    session.commit()
    instrument = instruments.get(session, actor_of(session, "admin"), "PR-TEST-01")
    assert [m.work for m in instruments.maintenance(session, instrument)] == ["清洁比色池，更换光源"]
    with pytest.raises(Invalid):
        instruments.record_maintenance(
            session,
            actor_of(session, "admin"),
            "PR-TEST-01",
            MaintenanceCreate(performed_on=_today(session) + timedelta(days=2), performed_by="张工", work="x"),
        )


def test_the_due_date_that_held_on_a_day_comes_from_the_calibration_records(session: Session) -> None:
    instrument = _overdue(session)
    today = _today(session)
    _calibrate(session)
    assert instruments.due_on(session, instrument, today - timedelta(days=1)) == today - timedelta(days=1)
    assert instruments.due_on(session, instrument, today) == today + timedelta(days=365)


# --------------------------------------------------------------------------- one rule on every path


def _label(client: TestClient, headers: dict[str, dict[str, str]]) -> str:
    return str(register(client, headers["tester"])["label_id"])


def _api(client: TestClient, headers: dict[str, dict[str, str]], label: str) -> dict[str, Any]:
    body = {"sample_label_id": label, "item_code": "OPC", "raw": NEGATIVE_OPC, "instrument_serial": "PR-TEST-01"}
    response = client.post("/api/v1/results", json=body, headers=headers["tester"])
    assert response.status_code == 201, response.text
    return dict(response.json())


def _ingest(session: Session, label: str, sequence: int) -> TestResult:
    reading = Reading("PR-TEST-01", "pesticide", sequence, "OPC", 1, label, dict(NEGATIVE_OPC))
    stored = ingest.store(session, reading)
    session.commit()
    assert stored.result_id is not None, stored
    return session.get(TestResult, stored.result_id)  # type: ignore[return-value]


def _import(session: Session, label: str, number: int) -> str:
    when = clock.local_time(clock.now(), clock.zone_of(session, actor_of(session, "admin").district_id))
    data = pesticide_csv([pesticide_row(number, label, when.strftime("%Y-%m-%d %H:%M:%S"))])
    report = file_import.import_file(session, actor_of(session, "admin"), "PR-TEST-01", Upload(data, "x.csv"))
    session.commit()
    [row] = [r for r in report.rows if r.state != "skipped"]
    assert row.state == "stored", row
    return str(row.judgement)


def test_an_instrument_past_calibration_gives_invalid_results_on_every_path_until_calibrated(
    client: TestClient, headers: dict[str, dict[str, str]], session: Session
) -> None:
    _overdue(session)
    api = _api(client, headers, _label(client, headers))
    assert (api["judgement"], api["reason_code"]) == ("invalid", "calibration_overdue")
    live = _ingest(session, _label(client, headers), 1)
    assert (live.judgement, live.reason_code) == ("invalid", "calibration_overdue")
    assert _import(session, _label(client, headers), 1) == "invalid"

    _calibrate(session)
    assert _api(client, headers, _label(client, headers))["judgement"] == "negative"
    assert _ingest(session, _label(client, headers), 2).judgement == "negative"
    assert _import(session, _label(client, headers), 2) == "negative"


def test_a_held_reading_assigned_later_is_judged_by_the_same_calibration_rule(
    client: TestClient, headers: dict[str, dict[str, str]], session: Session
) -> None:
    from lims.services.results import holding

    _overdue(session)
    reading = Reading("PR-TEST-01", "pesticide", 7, "OPC", 1, "XQ-20200101-0999", dict(NEGATIVE_OPC))
    stored = ingest.store(session, reading)
    session.commit()
    assert stored.held_id is not None
    result = holding.assign(session, actor_of(session, "tester"), stored.held_id, _label(client, headers))
    session.commit()
    assert (result.judgement, result.reason_code) == ("invalid", "calibration_overdue")


def test_of_two_edits_of_one_instrument_at_once_the_second_is_refused(engine: Engine) -> None:
    from lims.services.core import history

    with Session(engine) as first, Session(engine) as second:
        _overdue(first)
        shown = history.fingerprint(instruments.get(second, actor_of(second, "admin"), "PR-TEST-01"))
        instruments.update(first, actor_of(first, "admin"), "PR-TEST-01", InstrumentUpdate(location="实验室"), shown)
        first.commit()
        with pytest.raises(Conflict):
            instruments.update(
                second, actor_of(second, "admin"), "PR-TEST-01", InstrumentUpdate(location="快检车"), shown
            )
    with Session(engine) as check:
        assert check.exec(select(Instrument).where(Instrument.serial == "PR-TEST-01")).one().location == "实验室"
