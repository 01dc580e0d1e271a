"""Plans in the LIMS: stored versions, CLI acceptance, day sheet, samples against tasks, progress, urgent tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from lims.models import PlanTask
from lims.services.core.audit import SYSTEM
from lims.services.samples import plans


def _lims(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    return subprocess.run(
        [sys.executable, "-m", "lims", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_generates_october_2026_the_same_twice(tmp_path: Path) -> None:
    first = _lims(tmp_path, "plan", "generate", "--month", "2026-10", "--json")
    second = _lims(tmp_path, "plan", "generate", "--month", "2026-10", "--json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    schedule = json.loads(first.stdout)
    days = {date.fromisoformat(t["date"]) for t in schedule["tasks"]}
    assert not any(chinese_calendar.is_holiday(d) and not chinese_calendar.is_workday(d) for d in days)
    assert not any(date(2026, 10, 1) <= d <= date(2026, 10, 7) for d in days)
    adjusted = [d for d in days if d.weekday() >= 5]
    assert adjusted and all(chinese_calendar.is_workday(d) for d in adjusted)
    assert schedule["shortfalls"] == []
    for point, quota in schedule["quotas"].items():
        done = {}
        for task in schedule["tasks"]:
            if task["point"] == point:
                for category, n in task["batches"].items():
                    done[category] = done.get(category, 0) + n
        assert done == {c: n for c, n in quota.items() if n}, point
    progress = _lims(tmp_path, "plan", "progress", "--month", "2026-10", "--json")
    assert progress.returncode == 0, progress.stderr
    assert json.loads(progress.stdout)["progress"]


def test_bad_plan_file_names_field_and_line_and_stores_nothing(tmp_path: Path, engine: Engine) -> None:
    bad = tmp_path / "plan.yaml"
    bad.write_text("version: 1\nname: bad\nrule:\n  visits: -3\n", encoding="utf-8")
    done = _lims(tmp_path, "plan", "generate", "--month", "2026-10", "--plan", str(bad))
    assert done.returncode != 0
    assert "line 4" in done.stderr and "rule.visits" in done.stderr
    assert not (tmp_path / "var" / "lims.db").exists() or _versions_in(tmp_path / "var" / "lims.db") == 0


def _versions_in(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM plan_version").fetchone()[0])


def test_day_sheet_samples_against_tasks_and_progress(client: TestClient, headers: dict, engine: Engine) -> None:
    with Session(engine) as session:
        _version, schedule = plans.generate(session, SYSTEM, plans.load(), "2026-10")
        session.commit()
        assert session.exec(select(func.count()).select_from(PlanTask)).one() == len(schedule.tasks)
    day = schedule.tasks[0].date
    sheet = client.get(f"/api/v1/day-sheet?day={day}", headers=headers["tester"]).json()
    assert [t["route"] for t in sheet] == sorted(t["route"] for t in sheet)
    task = sheet[0]
    category = next(iter(task["batches"]))
    body = {
        "point_code": task["point_code"],
        "product_name": "样品",
        "category_code": category,
        "task_ref": f"T{task['id']}",
        "collected_at": f"{day}T02:00:00+00:00",
    }
    assert client.post("/api/v1/samples", json=body, headers=headers["tester"]).status_code == 201
    wrong_point = {**body, "point_code": "P10" if task["point_code"] != "P10" else "P01"}
    refused = client.post("/api/v1/samples", json=wrong_point, headers=headers["tester"])
    assert refused.status_code == 422 and "another sampling point" in refused.json()["detail"]
    again = client.get(f"/api/v1/day-sheet?day={day}", headers=headers["tester"]).json()
    assert again[0]["samples_registered"] == 1
    report = client.get("/api/v1/progress?month=2026-10", headers=headers["reviewer"]).json()
    rows = [r for r in report["progress"] if r["point_code"] == task["point_code"]]
    assert rows and sum(r["done"] for r in rows) >= 1
    assert all(r["planned"] >= r["done"] for r in rows if r["remaining"] > 0)
    later = day + timedelta(days=1)
    carried = client.get(f"/api/v1/day-sheet?day={later}", headers=headers["tester"]).json()
    flagged = [t for t in carried if t["carried_from"] == str(day)]
    assert flagged and all(t["overdue"] for t in flagged)


def test_replan_in_the_month_keeps_done_work(client: TestClient, headers: dict, engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        first, schedule = plans.generate(session, SYSTEM, plans.load(), "2026-10")
        session.commit()
    task = schedule.tasks[0]
    for category, n in task.batches.items():
        for _ in range(n):
            body = {
                "point_code": task.point,
                "product_name": "样品",
                "category_code": category,
                "collected_at": f"{task.date}T02:00:00+00:00",
            }
            assert client.post("/api/v1/samples", json=body, headers=headers["tester"]).status_code == 201
    with Session(engine, expire_on_commit=False) as session:
        second, replanned = plans.generate(session, SYSTEM, plans.load(), "2026-10", today=date(2026, 10, 20))
        session.commit()
    assert (first.number, second.number) == (1, 2) and second.replanned_from == date(2026, 10, 20)
    kept = [t for t in replanned.tasks if t.done]
    assert [(t.date, t.point) for t in kept] == [(task.date, task.point)]
    assert all(t.date >= date(2026, 10, 20) for t in replanned.tasks if not t.done)


def test_urgent_task_is_due_in_20_or_40_minutes(client: TestClient, headers: dict, engine: Engine) -> None:
    town = client.post(
        "/api/v1/tasks/urgent", json={"point_code": "P05", "complaint": "顾客投诉猪肉异味"}, headers=headers["tester"]
    )
    rural = client.post(
        "/api/v1/tasks/urgent", json={"point_code": "P09", "complaint": "蔬菜农残投诉"}, headers=headers["tester"]
    )
    assert town.status_code == rural.status_code == 201
    with Session(engine) as session:
        tasks = {t.id: t for t in session.exec(select(PlanTask).where(PlanTask.kind == "urgent"))}
    t_town, t_rural = tasks[town.json()["id"]], tasks[rural.json()["id"]]
    assert t_town.due_at - t_town.received_at == timedelta(minutes=20)
    assert t_rural.due_at - t_rural.received_at == timedelta(minutes=40)
    with Session(engine) as session:
        from lims.models import User
        from lims.services.access.auth import actor_for

        tester = actor_for(session.exec(select(User).where(User.username == "tester")).one())
        late = plans.day_sheet(session, tester, t_town.day, now=t_town.due_at + timedelta(minutes=1))
        early = plans.day_sheet(session, tester, t_town.day, now=t_town.received_at + timedelta(minutes=5))
    assert [t.overdue for t in late if t.kind == "urgent"] == [True, False]
    assert not any(t.overdue for t in early if t.kind == "urgent")
    reached = client.post(f"/api/v1/tasks/{town.json()['id']}/arrived", headers=headers["tester"])
    assert reached.status_code == 200 and reached.json()["done"]
