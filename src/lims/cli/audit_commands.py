"""Audit commands: `lims audit verify`, `checkpoint`, `public-key` and `check-checkpoints`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from lims.cli.common import fail, ready_engine, reporting_errors
from lims.services.core import audit, audit_checkpoints
from lims.services.core.audit import Report
from lims.services.core.audit_keys import load_public_key, public_key_pem, signing_key
from lims.services.core.audit_tables import AUDITED_MODELS

audit_app = typer.Typer(no_args_is_help=True, help="The audit trail: verify it, sign checkpoints of its chains.")

CheckpointFile = Annotated[
    Path | None, typer.Option("--checkpoints", help="checkpoint file (default: the configured one)")
]
PublicKey = Annotated[
    Path | None,
    typer.Option("--public-key", exists=True, dir_okay=False, help="PEM public key (default: the signing key's)"),
]


def _summary(report: Report) -> str:
    chains = ", ".join(f"{name} {count}" for name, count in sorted(report.chains.items()))
    events = sum(report.chains.values())
    return (
        f"{events} events in {len(report.chains)} chains ({chains or 'none'}), "
        f"{report.signed_heads} signed chain heads checked"
    )


def _breaks_json(report: Report) -> dict[str, object]:
    return {
        "intact": report.intact,
        "chains": report.chains,
        "signed_heads": report.signed_heads,
        "notes": report.notes,
        "breaks": [
            {
                "chain": b.chain,
                "event_id": b.event_id,
                "entity": b.entity or None,
                "entity_id": b.entity_id,
                "problem": b.problem,
                "text": str(b),
            }
            for b in report.breaks
        ],
        "more": report.more,
    }


def _broken(report: Report) -> str:
    total = len(report.breaks) + report.more
    lines = [f"audit trail broken: {total} problem{'s' if total != 1 else ''}"]
    lines += [f"  {b}" for b in report.breaks]
    if report.more:
        lines.append(f"  ... and {report.more} more")
    return "\n".join(lines)


@audit_app.command("verify")
def verify(
    checkpoints: CheckpointFile = None,
    public_key: PublicKey = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
) -> None:
    """Follow every chain (links, hashes, MACs, heads), check it against the signed checkpoints, and compare
    every audited row with its last audited state."""
    engine = ready_engine(migrate_sqlite=False)
    with reporting_errors(), Session(engine) as session:
        key = load_public_key(public_key.read_bytes(), str(public_key)) if public_key else None
        report = audit_checkpoints.verify(session, AUDITED_MODELS, path=checkpoints, public_key=key)
    if as_json:
        typer.echo(json.dumps(_breaks_json(report), ensure_ascii=False))
        if not report.intact:
            raise typer.Exit(1)
        return
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
    if not report.intact:
        fail(_broken(report))
    typer.echo(f"audit trail intact: {_summary(report)}")


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Sign a checkpoint of every chain's head and append it to the checkpoint file (refused, naming the
    place, if the chains no longer extend the previous checkpoint)."""
    engine = ready_engine(migrate_sqlite=False)
    with reporting_errors(), Session(engine) as session:
        taken = audit_checkpoints.take(session)
    heads = ", ".join(f"{h.chain} {h.count}" for h in taken.heads) or "no events yet"
    typer.echo(f"signed {taken.label()} in {audit_checkpoints.checkpoint_file()}: {heads}")


@audit_app.command("public-key")
def public_key(
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False, help="write the PEM here")] = None,
) -> None:
    """Print the public key (PEM) that checks the checkpoints' signatures; give it to whoever audits."""
    with reporting_errors():
        pem = public_key_pem(signing_key().public_key())
    if out is None:
        typer.echo(pem, nl=False)
        return
    try:
        out.write_text(pem)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    typer.echo(f"public key written to {out}")


@audit_app.command("check-checkpoints")
def check_checkpoints(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a checkpoint file")],
    key_file: Annotated[
        Path, typer.Option("--public-key", exists=True, dir_okay=False, help="the PEM from `lims audit public-key`")
    ],
    database: Annotated[
        bool, typer.Option("--database", help="also check the configured database's chains against them")
    ] = False,
) -> None:
    """Check checkpoints with the public key alone: signatures, each one extending the one before, and with
    --database that every signed head is still the event at its position (public hashes, no secret key)."""
    with reporting_errors():
        key = load_public_key(key_file.read_bytes(), str(key_file))
        found, problems = audit_checkpoints.read(file, key)
    problems += audit_checkpoints.consistency(found)
    if database:
        engine = ready_engine(migrate_sqlite=False)
        with Session(engine) as session:
            report = audit.check_public(session, audit_checkpoints.signed_heads(found))
        problems += [str(b) for b in report.breaks]
    if problems:
        fail("checkpoints do not check out:\n" + "\n".join(f"  {p}" for p in problems))
    newest = found[-1] if found else None
    if newest is None:
        fail(f"no checkpoint in {file}")
    heads = ", ".join(f"{h.chain} {h.count}" for h in newest.heads) or "no events"
    typer.echo(f"{len(found)} checkpoints check out; the newest, {newest.label()}, signs {heads}")


def register(app: typer.Typer) -> None:
    """Add the `audit` command group to `app`."""
    app.add_typer(audit_app, name="audit")
