"""Singer output that flushes at STATE messages instead of after every record.

The SDK's writer flushes stdout after each message: one system call per record, a large share of
a fast sync. Flushing at each STATE message (and at exit) keeps the guarantee that matters: a
STATE line never reaches the target before the records it acknowledges, which are written
first into the same ordered buffer. Records still buffered when the process dies were never
acknowledged, so the next run reads them again.
"""

from __future__ import annotations

import sys

from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import StateMessage
from singer_sdk.singerlib.messages import Message


class StateFlushingWriter(SingerWriter):
    def write_message(self, message: Message) -> None:
        sys.stdout.write(self.format_message(message) + "\n")
        if isinstance(message, StateMessage):
            sys.stdout.flush()
