"""``python -m hgj_edge run --config agent.yaml``: run one agent until SIGTERM or Ctrl-C.

Exit codes: 0 after a clean shutdown, 2 for a config that cannot be used (the message names
the key), 1 for anything else that stops the start.
"""

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from hgj_edge.agent.config import ConfigError, load_config
from hgj_edge.agent.runtime import Agent

log = logging.getLogger("hgj_edge")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hgj_edge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one edge agent")
    run.add_argument("--config", type=Path, required=True, help="the agent's YAML file")
    run.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config)
        agent = Agent(config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"error: cannot start the agent: {exc}", file=sys.stderr)
        return 1

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        agent.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    agent.start()
    log.info(
        "agent %s/%s running (%s)",
        config.community,
        config.device,
        ", ".join(sorted(agent.commands.actions)),
    )
    agent.run()
    return 0
