import sys

from smtpfake.entry import program

sys.exit(program())
