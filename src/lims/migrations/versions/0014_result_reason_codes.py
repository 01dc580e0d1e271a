"""results keep the judgement's reason code and parameters

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

A result's reason was stored as English text only; the judgement's code and figures now go to
`test_result.reason_params` so the reason is rendered in the reader's language when shown.  Existing
rows are backfilled by matching their English text against the texts each code produced; a text
that matches none keeps its code as `legacy_text` with the old text as its parameter.  Held readings
keep why they are held the same way, inside their reading (`reason_code`, `reason_params`).
"""

import json
import re
from typing import Any

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

LEGACY = "legacy_text"

# The English texts each reason code produced before codes were stored (frozen here on purpose).
_OLD_TEXTS: dict[str, list[str]] = {
    "non_finite_input": [
        "Invalid card: the reader sent intensities that are not numbers ({values}); test again.",
        "Invalid card: no T/C can be computed from T {t}, C {c}.",
        "Invalid run: the instrument sent readings that are not numbers ({values}); repeat the test.",
        "Invalid reading: the analyzer sent figures that are not numbers ({values}); repeat the test.",
    ],
    "control_dA_too_small": [
        "Invalid run: the control's absorbance change over 3 min is {control_dA}, below the method's minimum of "
        "{min_control_dA}; check the enzyme and substrate and repeat the test."
    ],
    "inhibition_above_threshold": [
        "Suspected positive: inhibition {inhibition} % is at or above the {threshold} % threshold "
        "(control ΔA {control_dA}, sample ΔA {sample_dA}); repeat the test and confirm by a laboratory method."
    ],
    "inhibition_negative": [
        "Negative: inhibition {inhibition} % is below zero because the sample reacted faster than the control "
        "(sample ΔA {sample_dA} > control ΔA {control_dA}); reported as calculated."
    ],
    "inhibition_below_threshold": [
        "Negative: inhibition {inhibition} % is below the {threshold} % threshold "
        "(control ΔA {control_dA}, sample ΔA {sample_dA})."
    ],
    "negative_intensity": [
        "Invalid card: a line intensity is negative (T {t}, C {c}), which no strip can give; "
        "check the reader and repeat the test."
    ],
    "no_c_line": [
        "Invalid card: no C line (C intensity {c} is below the kit's minimum of {min_c}); "
        "repeat the test with a new card."
    ],
    "tc_at_or_above_cutoff": ["Negative: T/C {ratio} is at or above the kit's cut-off {cutoff}."],
    "tc_below_cutoff": [
        "Suspected positive: T/C {ratio} is below the kit's cut-off {cutoff} "
        "(competitive format: a weaker T line means more analyte); confirm by a laboratory method."
    ],
    "above_range_dilute": [
        "Out of range: the solution reads {conc} {conc_unit}, above the highest standard {max_conc} {conc_unit}; "
        "dilute the extract and repeat."
    ],
    "not_detected": ["Not detected: {why}; reported as < {reporting_limit} {unit}."],
    "banned_detected": [
        "Suspected positive: {content} {unit} found (detection limit {detection_limit} {unit}) of a substance "
        "that may not be present in food ({source}); confirm by a laboratory method."
    ],
    "above_limit": [
        "Suspected positive: {content} {unit} is above the limit of {limit} {unit} ({source}); "
        "confirm by a laboratory method."
    ],
    "within_limit": ["Negative: {content} {unit} is within the limit of {limit} {unit} ({source})."],
}
_WHY = {
    "below_lowest_standard": "the solution reads {conc} {conc_unit}, below the lowest standard {min_conc} {conc_unit}",
    "below_detection_limit": "{content} {unit} is below the detection limit {detection_limit} {unit}",
}
_NON_FINITE_PARAMS = {"t", "c"}  # the T/C text carried its figures apart; they become one `values` text


def _pattern(text: str) -> re.Pattern[str]:
    """`text` with each `{name}` a group; a name used twice must match the same text twice."""
    out, seen = [], set()
    for part in re.split(r"(\{\w+\})", text):
        if re.fullmatch(r"\{\w+\}", part):
            name = part[1:-1]
            out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
            seen.add(name)
        else:
            out.append(re.escape(part))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def parse(code: str, text: str) -> tuple[str, dict[str, Any]]:
    """The code and parameters of a stored English reason, or the legacy code keeping the text."""
    for template in _OLD_TEXTS.get(code, []):
        found = _pattern(template).match(text)
        if not found:
            continue
        params: dict[str, Any] = found.groupdict()
        if set(params) == _NON_FINITE_PARAMS:
            params = {"values": f"T/C of T {params['t']}, C {params['c']}"}
        if "why" in params:
            for why_code, why_text in _WHY.items():
                why = _pattern(why_text).match(params["why"])
                if why:
                    params["why"] = {"code": why_code, "params": why.groupdict()}
                    break
            else:
                continue
        return code, params
    return LEGACY, {"text": text, **({"was": code} if code else {})}


def upgrade() -> None:
    with op.batch_alter_table('test_result', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_params', sa.JSON(), nullable=True))
    bind = op.get_bind()
    results = sa.table(
        'test_result', sa.column('id', sa.Integer), sa.column('reason_code', sa.String), sa.column('reason', sa.String),
        sa.column('reason_params', sa.JSON),
    )
    for row_id, code, text in bind.execute(sa.select(results.c.id, results.c.reason_code, results.c.reason)).all():
        new_code, params = parse(code or "", text or "")
        bind.execute(
            results.update().where(results.c.id == row_id).values(reason_code=new_code, reason_params=params)
        )
    with op.batch_alter_table('test_result', schema=None) as batch_op:
        batch_op.alter_column('reason_params', existing_type=sa.JSON(), nullable=False)

    held = sa.table('held_reading', sa.column('id', sa.Integer), sa.column('reading', sa.JSON))
    for row_id, reading in bind.execute(sa.select(held.c.id, held.c.reading)).all():
        data = json.loads(reading) if isinstance(reading, str) else dict(reading or {})
        if "reason_code" in data:
            continue
        data["reason_code"] = LEGACY
        data["reason_params"] = {"text": str(data.get("reason", ""))}
        bind.execute(held.update().where(held.c.id == row_id).values(reading=data))


def downgrade() -> None:
    bind = op.get_bind()
    held = sa.table('held_reading', sa.column('id', sa.Integer), sa.column('reading', sa.JSON))
    for row_id, reading in bind.execute(sa.select(held.c.id, held.c.reading)).all():
        data = json.loads(reading) if isinstance(reading, str) else dict(reading or {})
        data.pop("reason_code", None)
        data.pop("reason_params", None)
        bind.execute(held.update().where(held.c.id == row_id).values(reading=data))
    with op.batch_alter_table('test_result', schema=None) as batch_op:
        batch_op.drop_column('reason_params')
