"""``python -m smtpfake.http.parse_worker``: parses messages for ``GET /api/messages/{id}`` in a
process of its own (see :mod:`smtpfake.http.parsing`), one at a time, until its stdin closes.

Asked: one JSON line (the message's ``id``, envelope fields and ``size``), then ``size`` bytes of
data. Answered: one JSON line ``{"ok": bool, "size": N}``, then ``N`` bytes: the detail's JSON
answer, or (not ok) the traceback of the bug that stopped the parse, as UTF-8 text.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import BinaryIO

from smtpfake.engine.records import Message
from smtpfake.http.messages import Numbered, detail_bytes


def serve(asked: BinaryIO, answers: BinaryIO) -> None:
    while head := asked.readline():
        fields = json.loads(head)
        data = asked.read(int(fields["size"]))
        message = Message(
            mail_from=fields["mail_from"],
            rcpt_tos=tuple(fields["rcpt_tos"]),
            data=data,
            session=fields["session"],
            time=fields["time"],
            queue_id=fields["queue_id"],
            mail_options=tuple(fields["mail_options"]),
            rcpt_options=tuple(tuple(options) for options in fields["rcpt_options"]),
        )
        try:
            body, ok = detail_bytes(Numbered(int(fields["id"]), message)), True
        except Exception:  # a bug: the API answers 500 with it and reports it
            body, ok = traceback.format_exc().encode("utf-8", "replace"), False
        answers.write(json.dumps({"ok": ok, "size": len(body)}).encode("ascii") + b"\n")
        answers.write(body)
        answers.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
