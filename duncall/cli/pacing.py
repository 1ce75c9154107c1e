"""`duncall pacing` subcommands: simulate a dialing day, and the Erlang bound."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dialer.pacing.erlang import erlang_b_bound, erlang_c_bound
from dialer.pacing.policy import ABANDON_GRACE_S
from dialer.pacing.sim import PacingSimResult, Range, SimConfig, SimMode, simulate
from dialer.pacing.stats import ABANDON_LIMIT
from foundation.errors import InputError

MODE_CHOICES = [*(m.value for m in SimMode), "all"]


def register(sub: Any) -> None:
    pacing = sub.add_parser("pacing", help="pacing policy: simulate a dialing day, Erlang bounds")
    actions = pacing.add_subparsers(dest="pacing_command", metavar="ACTION", required=True)

    sim = actions.add_parser(
        "simulate",
        help="discrete-event simulation of one campaign, driving the real pacing policy",
        description="Simulate one campaign day per mode and report occupancy, abandonment and customer wait. "
        "Ranges are uniform LOW-HIGH.",
    )
    sim.add_argument("--agents", type=int, default=20, help="human agents, or bot capacity K (default 20)")
    sim.add_argument(
        "--answer-rate", default="0.25-0.35", help="live-answer probability range (default 0.25-0.35)"
    )
    sim.add_argument("--handle", default="120-180", help="handle time in seconds (default 120-180)")
    sim.add_argument("--ring", default="15-25", help="seconds from dial to answer or give-up (default 15-25)")
    sim.add_argument(
        "--wrap-up",
        type=float,
        default=0.0,
        help="the last S seconds of each handle time are a wrap-up of known length, which the policy "
        "is told about (default 0)",
    )
    sim.add_argument("--hours", type=float, default=8.0, help="length of the dialing day (default 8)")
    sim.add_argument("--seed", type=int, default=1, help="random seed; same seed, same day (default 1)")
    sim.add_argument("--mode", choices=MODE_CHOICES, default="all", help="pacing mode (default all)")
    sim.add_argument("--json", action="store_true", help="one JSON object per mode instead of a table")
    sim.set_defaults(func=_simulate)

    erl = actions.add_parser("erlang", help="static-dialer occupancy bound from Erlang B and C")
    erl.add_argument("--lines", type=int, default=20, help="agents (default 20)")
    erl.add_argument("--target", type=float, default=ABANDON_LIMIT, help="abandon rate (default 0.03)")
    erl.add_argument("--handle-mean", type=float, default=150.0, help="mean handle time, s (default 150)")
    erl.add_argument("--json", action="store_true", help="print JSON")
    erl.set_defaults(func=_erlang)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        agents=args.agents,
        answer_rate=Range.parse(args.answer_rate, "--answer-rate", maximum=1.0),
        handle_s=Range.parse(args.handle, "--handle", minimum=1.0),
        ring_s=Range.parse(args.ring, "--ring"),
        hours=args.hours,
        seed=args.seed,
        wrap_up_s=args.wrap_up,
    )


def _simulate(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    modes = list(SimMode) if args.mode == "all" else [SimMode(args.mode)]
    results = [simulate(config, mode) for mode in modes]
    if args.json:
        for result in results:
            print(json.dumps(result.as_dict()))
        return 0
    print(
        f"{config.agents} agents, answer rate {config.answer_rate}, handle {config.handle_s} s, "
        f"ring {config.ring_s} s, {config.hours:g} h, seed {config.seed}"
        + (f", known wrap-up {config.wrap_up_s:g} s" if config.wrap_up_s else "")
    )
    print(format_table(results))
    bound = erlang_b_bound(config.agents, ABANDON_LIMIT)
    print(f"Erlang-B static dialer at {ABANDON_LIMIT:.0%} abandonment: occupancy {bound.occupancy:.1%}")
    return 0


def format_table(results: list[PacingSimResult]) -> str:
    header = (
        f"{'mode':<12} {'occupancy':>9} {'abandon':>8} {'wait_mean':>9} {'wait_p95':>8} "
        f"{'placed':>7} {'answered':>8} {'abandoned':>9} {'wall_s':>6}"
    )
    rows = [header]
    for r in results:
        rows.append(
            f"{r.mode:<12} {r.occupancy:>9.1%} {r.abandon_rate:>8.2%} "
            f"{r.wait_mean_s:>8.2f}s {r.wait_p95_s:>7.2f}s "
            f"{r.placed:>7} {r.answered:>8} {r.abandoned:>9} {r.wall_s:>6.2f}"
        )
    return "\n".join(rows)


def _erlang(args: argparse.Namespace) -> int:
    if args.lines < 1:
        raise InputError(f"--lines {args.lines}", "give at least 1 line")
    bounds = [
        erlang_b_bound(args.lines, args.target),
        erlang_c_bound(args.lines, args.target, args.handle_mean, ABANDON_GRACE_S),
    ]
    for bound in bounds:
        fields = {
            "model": bound.model,
            "lines": bound.lines,
            "target": bound.target,
            "offered_erlangs": round(bound.offered_erlangs, 4),
            "carried_erlangs": round(bound.carried_erlangs, 4),
            "occupancy": round(bound.occupancy, 4),
        }
        if args.json:
            print(json.dumps(fields))
        else:
            print(
                f"{bound.model}: {bound.lines} lines at {bound.target:.1%}: "
                f"offered {bound.offered_erlangs:.2f} E, carried {bound.carried_erlangs:.2f} E, "
                f"occupancy {bound.occupancy:.1%}"
            )
    return 0
