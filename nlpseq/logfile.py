"""``train.log``: a log file whose failing writes (a full disk) are one line, never a traceback.

:class:`logging.FileHandler` prints a ``--- Logging error ---`` traceback to stderr for every record
it cannot write, so a full disk turned each log line of a training into a traceback. The run itself
is stopped, with one line naming the file, by the next write that matters (a checkpoint, a metrics
row); the log only says once that it cannot write.
"""

from __future__ import annotations

import logging
import sys


class LogFile(logging.FileHandler):
    """A FileHandler that reports its first failed write as one line on stderr and then stays quiet."""

    def __init__(self, filename: str, encoding: str = "utf-8"):
        super().__init__(filename, encoding=encoding)
        self.failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        self.failed = True
        error = sys.exc_info()[1]
        reason = getattr(error, "strerror", None) or error
        sys.stderr.write(f"nlpseq: {self.baseFilename}: cannot write ({reason}); later log lines are lost\n")
