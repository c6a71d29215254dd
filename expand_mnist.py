"""expand_mnist.py (project root)
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

A launcher, so that ``python expand_mnist.py`` works from the project
root as well as from ``src/`` (where the book runs it).  The program
itself, with its options (``--help``), is ``src/expand_mnist.py``; this
file only puts ``src/`` on the import path and runs that one as a script.
"""

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    src = Path(__file__).resolve().parent / "src"
    sys.path.insert(0, str(src))
    runpy.run_path(str(src / "expand_mnist.py"), run_name="__main__")
