"""``python -m vrag_env.commands``: the ``vrag`` command line."""

import sys

from vrag_env.commands import main

sys.exit(main())
