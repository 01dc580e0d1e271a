"""Two districts on one database for the isolation tests: the shipped district A (XQ) and a district B (YB) whose
reference data reuses some of A's codes, each with its users and its own published and unpublished work."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from instrument_drivers.reading import Reading
from lims.models import District, KitLot, SamplingPoint, Station, User
from lims.services.access import auth, districts
from lims.services.core.audit import SYSTEM
from lims.services.public import leads
from lims.services.public.leads import LeadForm, LeadLimiter
from lims.services.reference import reference_data
from lims.services.results import ingest
from lims.services.samples import plan_suggestions, plans
from lims.services.samples.label_ids import make_label_id
from tests.conftest import PASSWORD

# A fixed morning (10:00 in the districts' time): label ids, case clocks and kit-lot expiry do not depend on
# when the suite runs.
FROZEN = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
ROLES = ("tester", "reviewer", "station", "admin")

# District B reuses A's codes ST00 and P01 for places of its own; Q02 and YS01 exist only in B.
DISTRICT_B = """
district: {code: YB, name: y区市场监督管理局 12315 指挥中心, name_en: y District 12315 Command Centre}
stations:
  - {code: ST00, level: provincial, kind: shopping_centre, name: y区滨江购物中心 12315 消费维权服务站,
     name_en: y Riverside Shopping Centre station, address: y区滨江路2号}
  - {code: YS01, level: city, kind: market, name: y区东湖市场消费维权服务站, name_en: y East Lake market station,
     address: y区东湖镇集贸街1号}
points:
  - {code: P01, station: ST00, area: urban, kind: supermarket, name: y区滨江超市, name_en: y Riverside supermarket,
     address: y区滨江路2号负一层, latitude: 31.2041, longitude: 121.4737}
  - {code: Q02, station: YS01, area: rural, kind: market, name: y区东湖集贸市场, name_en: y East Lake market,
     address: y区东湖镇集贸街18号, latitude: 31.3102, longitude: 121.5519}
instruments:
  - {serial: YB-PR-0001, family: pesticide, model: 8-channel enzyme-inhibition analyzer, calibration_due: 2027-06-30}
"""
B_USERS = {"yb_tester": ("tester", None), "yb_reviewer": ("reviewer", None), "yb_station": ("station", "YS01")}
B_USERS["yb_admin"] = ("admin", None)


def load_district_b(engine: Engine, folder: Path) -> None:
    """District B's reference data (a folder of its own, as a province adds a district) and its users."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "district.yaml").write_text(DISTRICT_B, encoding="utf-8")
    shutil.copy(reference_data.shipped_reference_dir() / "items.yaml", folder / "items.yaml")
    with Session(engine) as session:
        reference_data.load_reference(session, SYSTEM, folder)
        for name, (role, station) in B_USERS.items():
            auth.add_user(session, SYSTEM, name, role, PASSWORD, district_code="YB", station_code=station)
        session.commit()


@dataclass
class Side:
    """One district as the tests use it: its users, points and the work it does."""

    code: str
    users: dict[str, str]  # role -> user name
    only_point: str  # a point code no other district has; the station user's station looks after it
    only_station: str  # a station code no other district has
    account: str  # a user name whose account the other district's administrators try to change
    instrument: str
    secret_item: tuple[str, str, str]  # code, Chinese and English name of the unpublished positive's item
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    published_label: str = ""
    published_result: int = 0
    warning: int = 0
    webhook: int = 0  # a webhook subscription of the district (its URL and log are its administrators' alone)
    suggestion: int = 0  # a suggested plan of the district, waiting for its administrator
    secret_label: str = ""
    secret_result: int = 0
    case: int = 0
    task: int = 0
    held: int = 0
    held_label: str = ""
    lead: int = 0  # a consumer's report about the unpublished sample, in this district's queue
    secret_point: str = ""  # where the unpublished work landed
    kit_lot: int = 0  # the kit lot only this district holds in stock (its secret positive took a card of it)
    free_kit_lot: int = 0  # a kit lot neither district holds

    @property
    def product(self) -> str:
        """The unpublished sample's product name."""
        return f"{self.code}机密牛里脊-{self.code.lower()}-secret-product"

    @property
    def brand(self) -> str:
        """The unpublished sample's brand."""
        return f"{self.code}-secret-brand"

    @property
    def batch(self) -> str:
        """The unpublished sample's batch."""
        return f"{self.code}SECRETLOT7"

    @property
    def correction(self) -> str:
        """The product name a pending correction of the published sample asks for."""
        return f"{self.code}待审更正-{self.code.lower()}-secret-correction"

    @property
    def complaint(self) -> str:
        """The urgent task's complaint."""
        return f"{self.code} 投诉：猪肉疑似瘦肉精 secret-complaint-{self.code.lower()}"

    def secrets(self, world: World) -> list[str]:
        """Strings of this district's unpublished work and private reference data another district never sees."""
        private = world.private_reference[self.code]
        accounts = [name for name in self.users.values() if "_" in name]  # A's (tester, …) are ordinary words
        work = [self.secret_label, self.product, self.brand, self.batch, self.complaint, self.held_label]
        work.append(self.correction)
        return [*work, *private, *accounts]

    def markers(self, world: World) -> list[str]:
        """Strings another district's answers may contain (reference data), but no more often once this
        district's unpublished work exists."""
        names = world.point_names[self.code][self.only_point]
        return [*self.secret_item, self.only_point, *names]


def fresh_sides() -> dict[str, Side]:
    """District A (the shipped XQ) and district B (YB); each side's unpublished positive uses its own item."""
    a_item, b_item = ("CLB", "克伦特罗", "Clenbuterol"), ("RAC", "莱克多巴胺", "Ractopamine")
    return {
        "XQ": Side("XQ", {r: r for r in ROLES}, "P05", "ST04", "station_other", "PR-8CH-0001", a_item),
        "YB": Side("YB", {r: f"yb_{r}" for r in ROLES}, "Q02", "YS01", "yb_station", "YB-PR-0001", b_item),
    }


@dataclass
class World:
    """Both districts, their clients and their work."""

    app: Any
    engine: Engine
    sides: dict[str, Side]
    private_reference: dict[str, list[str]]
    point_names: dict[str, dict[str, tuple[str, str]]]
    browsers: dict[tuple[str, str], TestClient] = field(default_factory=dict)

    def other(self, side: Side) -> Side:
        """The district that is not `side`."""
        return next(s for s in self.sides.values() if s.code != side.code)

    def browser(self, side: Side, role: str) -> TestClient:
        """A client signed in (session cookie) as the district's user of `role`; anonymous for 'anonymous'."""
        key = (side.code, role)
        if key not in self.browsers:
            client = TestClient(self.app)
            if role != "anonymous":
                client.cookies.set("lims_session", side.headers[role]["Authorization"].removeprefix("Bearer "))
            self.browsers[key] = client
        return self.browsers[key]

    def headers(self, side: Side, role: str) -> dict[str, str]:
        """Bearer headers of the district's user of `role` (none for 'anonymous')."""
        return {} if role == "anonymous" else side.headers[role]


def new_token(engine: Engine, username: str) -> str:
    """A bearer token of a sign-in of its own for `username`."""
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        token = auth.issue_token(session, user)
        session.commit()
    return token


def _tokens(engine: Engine, side: Side) -> None:
    for role, name in side.users.items():
        side.headers[role] = {"Authorization": f"Bearer {new_token(engine, name)}"}


def _reference_of(session: Session) -> tuple[dict[str, list[str]], dict[str, dict[str, tuple[str, str]]]]:
    """Per district: what is not public (addresses, coordinates, station codes no other district uses), and the
    names of its points."""
    by_district = {d.id: d.code for d in session.exec(select(District))}
    stations = list(session.exec(select(Station)))
    points = list(session.exec(select(SamplingPoint)))
    station_district = {s.id: by_district[s.district_id] for s in stations}
    private: dict[str, list[str]] = {code: [] for code in by_district.values()}
    names: dict[str, dict[str, tuple[str, str]]] = {code: {} for code in by_district.values()}
    for s in stations:
        shared = any(o.code == s.code and o.district_id != s.district_id for o in stations)
        private[station_district[s.id]] += [s.address] * bool(s.address) + [s.code] * (not shared)
    for p in points:
        code = station_district[p.station_id]
        private[code] += [p.address] * bool(p.address)
        private[code] += [f"{v}" for v in (p.latitude, p.longitude) if v is not None]
        names[code][p.code] = (p.name, p.name_en)
    return private, names


def build(app: Any, engine: Engine, tmp_path: Path) -> World:
    """Load district B, sign everybody in, and let each district publish a result and a warning."""
    load_district_b(engine, tmp_path / "reference_b")
    sides = fresh_sides()
    for side in sides.values():
        _tokens(engine, side)
    with Session(engine) as session:
        private, names = _reference_of(session)
    world = World(app, engine, sides, private, names)
    for side in sides.values():
        _publish_shared(world, side)
    return world


def api(world: World, side: Side, role: str, method: str, url: str, **kwargs: Any) -> Any:
    """An API call as the district's user of `role`."""
    return world.browser(side, "anonymous").request(method, url, headers=world.headers(side, role), **kwargs)


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def _publish_shared(world: World, side: Side) -> None:
    """A published negative at P01 (a code both districts use) and a published warning."""
    sample = _ok(
        api(
            world,
            side,
            "tester",
            "POST",
            "/api/v1/samples",
            json={"point_code": "P01", "product_name": f"{side.code}共享小白菜", "category_code": "VEG_LEAF"},
        ),
        201,
    )
    body = {"sample_label_id": sample["label_id"], "item_code": "OPC", "raw": {"control_dA": 0.60, "sample_dA": 0.48}}
    result = _ok(api(world, side, "tester", "POST", "/api/v1/results", json=body), 201)
    for action in ("approve", "publish"):
        _ok(api(world, side, "reviewer", "POST", f"/api/v1/results/{result['id']}/{action}"))
    side.published_label, side.published_result = sample["label_id"], int(result["id"])
    warning = {"title_zh": f"{side.code} 消费警示", "body_zh": "近期抽检发现问题，请谨慎购买。", "item_code": "OPC"}
    side.warning = int(_ok(api(world, side, "reviewer", "POST", "/api/v1/warnings", json=warning), 201)["id"])
    hook = {"url": f"https://93.184.215.14/{side.code.lower()}-secret-hook", "events": ["positive.cleared"]}
    side.webhook = int(_ok(api(world, side, "admin", "POST", "/api/v1/webhooks", json=hook), 201)["id"])
    with Session(world.engine) as session:
        actor = districts.acting_for(session, SYSTEM, side.code)
        shipped = plans.load()  # district B's plan: the shipped one at the point code both districts use
        plan = None if side.code == "XQ" else shipped.model_copy(update={"points": shipped.points[:1]})
        row = plan_suggestions.suggest(session, actor, "2026-12", plan=plan, today=FROZEN.date())
        side.suggestion = int(row.id or 0)
        session.commit()


def create_unpublished_work(world: World) -> None:
    """Each district's unpublished work: a sample with a suspected positive, its case and the station's
    notification, an urgent task, a pending correction of its published sample, and a held instrument reading.

    Each district's tester first tries the other district's point (the attack of issue 9); where the system
    lets it, the work lands there, as it did before districts owned their points."""
    for side in world.sides.values():
        other = world.other(side)
        attack = api(world, side, "tester", "POST", "/api/v1/samples", json=_secret_sample(side, other.only_point))
        assert attack.status_code in (201, 422), attack.text
        if attack.status_code == 201:
            sample, side.secret_point = attack.json(), other.only_point
        else:
            sample, side.secret_point = (
                _ok(
                    api(world, side, "tester", "POST", "/api/v1/samples", json=_secret_sample(side, side.only_point)),
                    201,
                ),
                side.only_point,
            )
        side.secret_label = sample["label_id"]
        item = side.secret_item[0]
        with Session(world.engine) as session:
            lots = {k.lot: int(k.id or 0) for k in session.exec(select(KitLot))}
        side.kit_lot, side.free_kit_lot = lots[f"{item}-2611A"], lots["SAL-2611A"]
        _ok(api(world, side, "admin", "POST", f"/api/v1/kit-lots/{side.kit_lot}/receive", json={"quantity": 20}))
        _ok(api(world, side, "admin", "POST", f"/api/v1/kit-lots/{side.kit_lot}/accept", json={"accepted": True}))
        body = {"sample_label_id": side.secret_label, "item_code": item, "raw": {"t": 0.4, "c": 1.0}}
        body["kit_lot"] = f"{item}-2611A"
        result = _ok(api(world, side, "tester", "POST", "/api/v1/results", json=body), 201)
        assert result["judgement"] == "positive", result
        side.secret_result = int(result["id"])
        _ok(api(world, side, "reviewer", "POST", f"/api/v1/results/{side.secret_result}/approve"))
        cases = _ok_list(api(world, side, "reviewer", "GET", "/api/v1/cases"))
        side.case = next(int(c["id"]) for c in cases if c["sample_label_id"] == side.secret_label)
        urgent = {"point_code": other.only_point, "complaint": side.complaint, "category_code": "PORK"}
        task = api(world, side, "reviewer", "POST", "/api/v1/tasks/urgent", json=urgent)
        assert task.status_code in (201, 422), task.text
        if task.status_code == 422:
            urgent["point_code"] = side.only_point
            task = api(world, side, "reviewer", "POST", "/api/v1/tasks/urgent", json=urgent)
        side.task = int(_ok(task, 201)["id"])
        correction = {"product_name": side.correction, "category_code": "VEG_LEAF", "reason": "名称录入有误"}
        url = f"/api/v1/samples/{side.published_label}/corrections"
        pending = api(world, side, "tester", "POST", url, json=correction)
        assert pending.status_code == 202, pending.text  # published: the correction waits for a reviewer
        side.held_label = make_label_id(side.code, FROZEN.date(), 900)
        with Session(world.engine) as session:
            reading = Reading(
                instrument_serial=side.instrument,
                family="pesticide",
                sequence=4242,
                item_code="OPC",
                sample_label_id=side.held_label,
                raw={"control_dA": 0.6, "sample_dA": 0.5},
            )
            stored = ingest.store(session, reading)
            session.commit()
        assert stored.held_id is not None, stored
        side.held = int(stored.held_id)
        with Session(world.engine) as session:
            report = LeadForm(side.secret_label, side.complaint, where_bought=side.product, contact=side.brand)
            side.lead = int(leads.submit(session, LeadLimiter(), "192.0.2.1", report).id or 0)
            session.commit()


def _ok_list(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return list(response.json())


def _secret_sample(side: Side, point: str) -> dict[str, Any]:
    return {
        "point_code": point,
        "product_name": side.product,
        "category_code": "PORK",
        "brand": side.brand,
        "batch": side.batch,
    }


def rows(engine: Engine) -> dict[str, dict[Any, tuple[Any, ...]]]:
    """Every row of every table, by id (to compare before and after a request)."""
    with engine.connect() as conn:
        return {
            table.name: {r._mapping["id"]: tuple(r) for r in conn.execute(table.select())}
            for table in SQLModel.metadata.sorted_tables
        }


def body_text(response: Any) -> str:
    """A response body as text; JSON re-encoded without escapes so that Chinese text can be searched."""
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            return json.dumps(response.json(), ensure_ascii=False)
        except ValueError:
            pass
    return str(response.content.decode("utf-8", "replace"))


def substitute(text: str, value: str, replacement: str) -> str:
    """`text` with `value` (a code or id, as a whole word) replaced."""
    return re.sub(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", replacement, text)
