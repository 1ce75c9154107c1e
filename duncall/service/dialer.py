"""The dialer as a service: ``duncall campaign run`` again and again, in one process.

    python -m duncall.service.dialer --every 300 -- --campaign C --endpoint 'PJSIP/{number}@carrier'

``duncall campaign run`` plans the accounts due now, dials them through the guards and returns;
re-running it is safe (it settles what a dead run left and never redials what the rules forbid).
This loop re-runs it every ``--every`` seconds after the last run ended, so accounts that become
due later (a retry's spacing, a calling window opening, a promise broken) are called without
anyone starting a run. One process for the life of the container, so the Prometheus metrics of
every run accumulate in one place.

SIGTERM (``docker compose stop``) ends the current run as Ctrl-C does — its live calls end and
are recorded — and then the loop; a run that fails is reported and retried at the next turn.
The bot talks on the answered calls (``--answer bot``, the default): inside this process, or in
the bot workers of ``duncall bot serve`` with ``DUNCALL_BOT=remote`` (the compose file's).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from foundation.log import kv

log = logging.getLogger(__name__)

DEFAULT_EVERY_S = 300.0
MIN_EVERY_S = 5.0  # below this, an empty campaign only spins


class _Stop(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be: the campaign run ends its calls as on Ctrl-C."""


def run_forever(campaign_args: Sequence[str], every_s: float, stop: threading.Event) -> int:
    from duncall.cli import main as cli_main

    runs = 0
    try:
        while not stop.is_set():
            runs += 1
            # The CLI turns SIGTERM (a KeyboardInterrupt) during a run into exit code 130.
            code = cli_main(["campaign", "run", *campaign_args])
            log.info("campaign run ended", extra=kv(run=runs, exit_code=code))
            if code == 2:  # a usage error: the same arguments will not work next time either
                return code
            stop.wait(every_s)
    except _Stop:
        pass  # SIGTERM between runs
    return 0


def _forget_live_gauges_of_this_pid() -> None:
    """A container restarted keeps its pid: the last process's live gauges must not carry over.

    In multiprocess mode a gauge's value sits in a file named by pid and is read back by a new
    process with the same pid; a dialer that died with calls up would leave them counted for ever.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # untyped upstream


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m duncall.service.dialer")
    parser.add_argument(
        "--every", type=float, default=DEFAULT_EVERY_S, help="seconds between the end of a run and the next"
    )
    parser.add_argument(
        "campaign_args", nargs=argparse.REMAINDER, help="-- then `duncall campaign run` options"
    )
    args = parser.parse_args(argv)
    rest = args.campaign_args[1:] if args.campaign_args[:1] == ["--"] else args.campaign_args
    if args.every < MIN_EVERY_S:
        parser.error(f"--every {args.every:g} is too short; use {MIN_EVERY_S:g} s or more")
    if not rest:
        parser.error("no campaign: pass -- --campaign NAME --endpoint 'PJSIP/{number}@carrier'")
    _forget_live_gauges_of_this_pid()
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()
        raise _Stop

    signal.signal(signal.SIGTERM, on_term)
    return run_forever(rest, args.every, stop)


if __name__ == "__main__":
    sys.exit(main())
