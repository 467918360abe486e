import sys

from smtpfake.cli import program

sys.exit(program())
