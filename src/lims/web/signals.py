"""Early-warning pages: the district's signals (reviewers and stations), and a draft warning's edit and publication."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from lims.api.deps import RowId, SessionDep
from lims.i18n import _N
from lims.models import PublicWarning
from lims.models.cases import WarningDraftEdit
from lims.models.common import Role
from lims.services.analysis import signals
from lims.services.cases import warnings
from lims.services.core import clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid, ServiceError
from lims.services.reference import reference_data
from lims.web.common import CsrfChecked, page_router, redirect, render, role_page, said, validation_reason
from lims.web.i18n import language

router = page_router()
Reader = Annotated[Actor, Depends(role_page(Role.REVIEWER, Role.STATION))]
Reviewer = Annotated[Actor, Depends(role_page(Role.REVIEWER))]
DONE = {"published", "discarded"}
FIELDS = ("title_zh", "title_en", "product", "finding", "source", "advice", "item_code", "category_code", "gtin")


def _list(request: Request, session: Session, actor: Actor, status_code: int = 200, **context: Any) -> HTMLResponse:
    found = signals.analyse(session, actor)
    done = request.query_params.get("done")
    return render(
        request,
        "signals.html",
        status_code=status_code,
        found=found,
        drafts=warnings.drafts(session, actor) if actor.role == Role.REVIEWER else [],
        done=done if done in DONE else None,
        **context,
    )


@router.get("/signals", response_class=HTMLResponse)
def signal_list(request: Request, session: SessionDep, actor: Reader) -> HTMLResponse:
    """The district's signals today, strongest first, with the figures each rests on; reviewers draft from them."""
    return _list(request, session, actor)


@router.post("/signals/draft", response_class=HTMLResponse, dependencies=[CsrfChecked])
def draft(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    point: Annotated[str, Form(max_length=16)] = "",
    category: Annotated[str, Form(max_length=32)] = "",
    item: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Turn a signal into a draft warning and open it for editing."""
    try:
        warning = signals.draft_warning(session, actor, point.strip(), category.strip(), item.strip())
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _list(
            request, session, actor, exc.status_code, error=said(request, exc), error_key=f"{point}/{category}/{item}"
        )
    return redirect(f"/signals/drafts/{warning.id}")


def _form_of(warning: PublicWarning) -> dict[str, Any]:
    values = {name: getattr(warning, name) or "" for name in FIELDS}
    values["valid_until"] = clock.local_date(warning.expires_at).isoformat() if warning.expires_at else ""
    return values


def _editor(
    request: Request, session: Session, actor: Actor, warning: PublicWarning, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request,
        "warning_draft.html",
        status_code=status_code,
        w=warning,
        number=warnings.number_text(warning, language(request)),
        form=context.pop("form", None) or _form_of(warning),
        items=reference_data.items(session),
        categories=reference_data.categories(session),
        saved=request.query_params.get("done") == "saved",
        **context,
    )


@router.get("/signals/drafts/{warning_id}", response_class=HTMLResponse)
def editor(request: Request, session: SessionDep, actor: Reviewer, warning_id: RowId) -> HTMLResponse:
    """A draft warning's edit form, the text the public would read, and its publication with a confirmation."""
    return _editor(request, session, actor, warnings.get_draft(session, actor, warning_id))


@router.post("/signals/drafts/{warning_id}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def save(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    warning_id: RowId,
    revision: Annotated[int, Form(ge=1, le=1_000_000)],
    title_zh: Annotated[str, Form(max_length=200)] = "",
    title_en: Annotated[str, Form(max_length=200)] = "",
    product: Annotated[str, Form(max_length=200)] = "",
    finding: Annotated[str, Form(max_length=1000)] = "",
    source: Annotated[str, Form(max_length=500)] = "",
    advice: Annotated[str, Form(max_length=1000)] = "",
    item_code: Annotated[str, Form(max_length=16)] = "",
    category_code: Annotated[str, Form(max_length=32)] = "",
    gtin: Annotated[str, Form(max_length=14)] = "",
    valid_until: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Save an edit of a draft; refused with the reason (and what was typed) when someone changed it meanwhile."""
    form = {
        "title_zh": title_zh,
        "title_en": title_en,
        "product": product,
        "finding": finding,
        "source": source,
        "advice": advice,
        "item_code": item_code,
        "category_code": category_code,
        "gtin": gtin,
        "valid_until": valid_until,
    }
    warning = warnings.get_draft(session, actor, warning_id)
    try:
        data = WarningDraftEdit.model_validate(
            {
                **{
                    k: v.strip()
                    for k, v in form.items()
                    if k not in ("valid_until", "item_code", "category_code", "gtin")
                },
                "item_code": item_code.strip() or None,
                "category_code": category_code.strip() or None,
                "gtin": gtin.strip() or None,
                "expires_at": warnings.valid_until(session, actor, valid_until),
                "revision": revision,
            }
        )
        warnings.edit_draft(session, actor, warning_id, data)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        fresh = warnings.get_draft(session, actor, warning_id)
        return _editor(request, session, actor, fresh, exc.status_code, error=said(request, exc), form=form)
    except ValidationError as exc:
        return _editor(request, session, actor, warning, 422, error=validation_reason(exc), form=form)
    return redirect(f"/signals/drafts/{warning_id}?done=saved")


def _unconfirmed() -> Invalid:
    return Invalid(
        "signals.confirm_publish",
        _N("tick “I confirm” first: the public sees the warning at once; nothing was changed"),
    )


@router.post("/signals/drafts/{warning_id}/{action}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def act(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    warning_id: RowId,
    action: Literal["publish", "discard"],
    revision: Annotated[int, Form(ge=1, le=1_000_000)],
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    """Publish a draft (confirmed: the public sees it at once) or discard it; of two reviewers at once, one wins."""
    try:
        if action == "publish":
            if not confirm:
                raise _unconfirmed()
            warnings.publish_draft(session, actor, warning_id, revision)
        else:
            warnings.discard_draft(session, actor, warning_id, revision)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        fresh = warnings.get_draft(session, actor, warning_id)
        return _editor(request, session, actor, fresh, exc.status_code, act_error=said(request, exc))
    return redirect(f"/signals?done={'published' if action == 'publish' else 'discarded'}")
