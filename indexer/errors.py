"""The one base of errors a user can fix: its message says what to do.

The CLI prints any of them as one line and exits non-zero without importing
the stage that raised it, so a keyword search never loads the builder or the
model code just to be ready to report their errors.
"""


class UserError(Exception):
    """Bad input, a foreign or damaged index, a model that cannot load, a failed build."""
