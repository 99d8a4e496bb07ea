import sys

from rankwise.cli.main import app

sys.exit(app())
