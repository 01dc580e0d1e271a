"""The administrator's sharing page: add a subscription (its secret shown once), see the delivery log, disable it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from lims.services.sharing import delivery
from lims.settings import get_settings
from tests.core.helpers import published_result
from tests.web.helpers import post_form, sign_in


@pytest.fixture
def private_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    """Receivers on 127.0.0.1 are allowed (nothing listens on port 9: every try fails)."""
    monkeypatch.setenv("LIMS_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    get_settings.cache_clear()


def test_an_administrator_subscribes_sees_the_log_and_disables(
    private_ok: None, app: Any, client: Any, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    admin = sign_in(app, "admin")
    page = admin.get("/admin/sharing")
    assert page.status_code == 200 and "与其他平台共享" in page.text and "尚无平台订阅" in page.text
    form = {"url": "http://127.0.0.1:9/hooks", "description": "省平台", "events": ["result.published"]}
    added = post_form(admin, "/admin/sharing", "/admin/sharing", form)
    assert added.status_code == 201 and added.headers["cache-control"] == "no-store"
    secret = added.text.split('class="data secret">', 1)[1].split("<", 1)[0]
    assert secret.startswith("whsec_") and len(secret) > 40
    again = admin.get("/admin/sharing")
    assert "whsec_" not in again.text and "省平台" in again.text  # the secret is never shown again

    published_result(client, headers)
    assert delivery.deliver_due(engine).retrying == 1
    logged = admin.get("/admin/sharing")
    assert (
        "最近推送记录" in logged.text and 'data-attempt="1"' in logged.text and "ConnectionRefusedError" in logged.text
    )

    subscription = logged.text.split('data-subscription="', 1)[1].split('"', 1)[0]
    done = post_form(admin, "/admin/sharing", f"/admin/sharing/{subscription}/disable")
    assert done.status_code == 303
    after = admin.get("/admin/sharing").text
    assert f'action="/admin/sharing/{subscription}/enable"' in after and "/disable" not in after
    twice = post_form(admin, "/admin/sharing", f"/admin/sharing/{subscription}/disable")
    assert twice.status_code == 409 and "已停用" in twice.text


def test_a_refused_url_is_shown_in_chinese_with_the_form_kept(app: Any) -> None:
    admin = sign_in(app, "admin")
    form = {"url": "http://192.168.1.20/hook", "description": "内网平台", "events": ["warning.published"]}
    refused = post_form(admin, "/admin/sharing", "/admin/sharing", form)
    assert refused.status_code == 422 and "内网或本机地址" in refused.text
    assert 'value="http://192.168.1.20/hook"' in refused.text
    none_chosen = post_form(admin, "/admin/sharing", "/admin/sharing", {"url": "https://example.org/h"})
    assert none_chosen.status_code == 422


def test_other_roles_may_not_open_it(app: Any) -> None:
    reviewer = sign_in(app, "reviewer")
    assert reviewer.get("/admin/sharing", follow_redirects=False).status_code in (303, 403)
