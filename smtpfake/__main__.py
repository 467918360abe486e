import sys

from smtpfake.cli import main

sys.exit(main())
