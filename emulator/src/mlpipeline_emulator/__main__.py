"""``python -m mlpipeline_emulator``: the ``mlpipeline-emulator`` command."""

import sys

from .cli import main

sys.exit(main())
