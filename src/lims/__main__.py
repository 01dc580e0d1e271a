"""Run the `lims` command line as `python -m lims`."""

from lims.cli.main import run

run()
