"""The installed `tessera` command, as a user runs it (the console script beside this interpreter)."""

import sys
from pathlib import Path

TESSERA = str(Path(sys.executable).with_name("tessera"))
