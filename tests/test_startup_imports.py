"""Issue 11 item 1: a server that delivers nowhere starts and serves without aiosmtpd and the
email package (start-up time); they load when a back end is named or a message is parsed."""

from __future__ import annotations

import json
import subprocess
import sys

# A fresh interpreter: what this test process already imported does not count. The client is a
# raw socket, because smtplib itself imports the email package.
SCRIPT = """
import json, socket, sys
from smtpfake.server import Server

def loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in ("aiosmtpd", "email"))

with Server("default") as server:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        talk = b"EHLO c.test\\r\\nMAIL FROM:<a@x.test>\\r\\nRCPT TO:<b@x.test>\\r\\nDATA\\r\\n"
        sock.sendall(talk)
        got = b""
        while b"354 " not in got:
            got += sock.recv(4096)
        sock.sendall(b"Subject: hi\\r\\n\\r\\nbody\\r\\n.\\r\\nQUIT\\r\\n")
        while b"221" not in got:
            got += sock.recv(4096)
    served = loaded()
    subject = server.messages[0].subject
print(json.dumps({"served": served, "subject": subject, "after": loaded()}))
"""


def test_a_server_without_delivery_loads_neither_aiosmtpd_nor_the_email_package() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["served"] == []
    assert seen["subject"] == "hi"  # parsing on first use loads the email package
    assert "email.policy" in seen["after"]


def test_naming_a_back_end_loads_it() -> None:
    # a Maildir is aiosmtpd's Mailbox; a relay smtpfake's own (aiosmtpd's Proxy drops failures)
    script = (
        "import sys, tempfile; from smtpfake.delivery import named; "
        "m = named('maildir:' + tempfile.mkdtemp() + '/m'); r = named('proxy:127.0.0.1:2525'); "
        "print(type(m).__module__, type(r).__module__)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["aiosmtpd.handlers", "smtpfake.relay"], out.stderr
