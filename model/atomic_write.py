"""Write files so that a reader sees either the old file or the new one, never half of one."""

import os
import tempfile
from pathlib import Path

FILE_MODE = 0o644
"""Permissions of a written file: a temporary file starts private, the result is readable by all."""


def write_atomically(path, data, mode=FILE_MODE):
    """Write bytes to path through a temporary file in the same folder, then rename it over path.

    The rename is one step on POSIX, so a concurrent reader (the app, a
    second run) never sees a half-written file; on any error, Ctrl-C
    included, the temporary file is removed and path is left as it was.
    """
    path = Path(path)
    descriptor, temp_name = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as temp_file:
            temp_file.write(data)
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
