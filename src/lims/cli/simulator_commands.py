"""`lims simulate KIND --listen URL …`: run a simulated instrument (the only lims path into simulators)."""

from __future__ import annotations

import typer


def simulate(ctx: typer.Context) -> None:
    """Run a simulated instrument of a registered family (see `lims simulate --help`)."""
    from simulators.cli import main

    raise typer.Exit(main(ctx.args, prog="lims simulate"))


def register(app: typer.Typer) -> None:
    """Add `simulate` to the `lims` app; its options are parsed by the simulators' own parser."""
    app.command(
        "simulate",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
        add_help_option=False,
    )(simulate)
