"""`python -m simulators KIND --listen URL …`"""

import sys

from simulators.cli import main

sys.exit(main(prog="python -m simulators"))
