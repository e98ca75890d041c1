"""``python -m hgj_edge run --config agent.yaml``."""

import sys

from hgj_edge.agent.cli import main

sys.exit(main())
