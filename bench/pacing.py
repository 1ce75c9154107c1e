"""Pacing benchmark: predictive vs progressive vs the clairvoyant oracle vs the Erlang-B bound.

20 agents, handle 120-180 s, answer rate 25-35%, ring 15-25 s, an 8-hour day, seeds 1..10.
Goal: predictive >= 85% occupancy with abandonment <= 3.0% on every seed, one simulated day
<= 10 s.  Prints a table and exits 1 when a goal is missed.

    .venv/bin/python bench/pacing.py [--seeds 1-10] [--hours 8] [--agents 20] [--wrap-up S [--wrap-up-blind]] [--jobs N]

``--wrap-up S``: the last S seconds of each handle time (the same 120-180 s) are a wrap-up of
known length, which the policy is told about; with ``--wrap-up-blind`` it is not (the agent
looks on a call until ready), to measure what knowing it is worth on the same world.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from dialer.pacing.erlang import erlang_b_bound
from dialer.pacing.sim import PacingSimResult, Range, SimConfig, SimMode, simulate
from dialer.pacing.stats import ABANDON_LIMIT

OCCUPANCY_GOAL = 0.85
DAY_WALL_GOAL_S = 10.0
MODES = (SimMode.PREDICTIVE, SimMode.PROGRESSIVE, SimMode.ORACLE)


def _simulate_modes(config: SimConfig) -> dict[SimMode, PacingSimResult]:
    return {mode: simulate(config, mode) for mode in MODES}


def _rows(configs: list[SimConfig], jobs: int) -> Iterator[dict[SimMode, PacingSimResult]]:
    if jobs == 1:
        yield from map(_simulate_modes, configs)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(_simulate_modes, configs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", default="1-10", help="LOW-HIGH (default 1-10)")
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--wrap-up", type=float, default=0.0, help="seconds of known wrap-up (default 0)")
    parser.add_argument("--wrap-up-blind", action="store_true", help="do not tell the policy about wrap-ups")
    parser.add_argument(
        "--jobs", type=int, default=1, help="seeds simulated at once, one process each (default 1)"
    )
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give at least 1")
    seeds_range = Range.parse(args.seeds, "--seeds", minimum=0)
    seeds = range(int(seeds_range.low), int(seeds_range.high) + 1)

    results: dict[SimMode, list[PacingSimResult]] = {mode: [] for mode in MODES}
    print(
        f"{'seed':>4} | {'predictive occ':>14} {'abandon':>8} {'wait p95':>8} {'wall':>6} {'cpu':>6} | "
        f"{'progressive occ':>15} | {'oracle occ':>10} | {'gap to oracle':>13}"
    )
    configs = [
        SimConfig(
            agents=args.agents,
            hours=args.hours,
            seed=seed,
            wrap_up_s=args.wrap_up,
            wrap_up_known=not args.wrap_up_blind,
        )
        for seed in seeds
    ]
    # Each seed's day is the same whichever process runs it (the simulation is deterministic), so
    # --jobs only changes how long the table takes; rows still print in seed order.
    for seed, row in zip(seeds, _rows(configs, args.jobs), strict=True):
        for mode, result in row.items():
            results[mode].append(result)
        day, prog, oracle = row[SimMode.PREDICTIVE], row[SimMode.PROGRESSIVE], row[SimMode.ORACLE]
        print(
            f"{seed:>4} | {day.occupancy:>14.1%} {day.abandon_rate:>8.2%} {day.wait_p95_s:>7.2f}s "
            f"{day.wall_s:>5.1f}s {day.cpu_s:>5.1f}s | {prog.occupancy:>15.1%} | {oracle.occupancy:>10.1%} | "
            f"{oracle.occupancy - day.occupancy:>12.1%}p",
            flush=True,
        )

    pred = results[SimMode.PREDICTIVE]
    bound = erlang_b_bound(args.agents, ABANDON_LIMIT)
    occ = [r.occupancy for r in pred]
    abandon = [r.abandon_rate for r in pred]
    walls = [r.wall_s for r in pred]
    cpus = [r.cpu_s for r in pred]
    print()
    for mode in MODES:
        values = [r.occupancy for r in results[mode]]
        rates = [r.abandon_rate for r in results[mode]]
        print(
            f"{mode.value:<12} occupancy mean {statistics.mean(values):.1%} min {min(values):.1%} max "
            f"{max(values):.1%}; abandonment mean {statistics.mean(rates):.2%} max {max(rates):.2%}"
        )
    for mode in (SimMode.PREDICTIVE, SimMode.PROGRESSIVE):
        rs = results[mode]
        print(
            f"{mode.value:<12} idle agent time: nothing ringing "
            f"{statistics.mean(r.idle_no_call for r in rs):.1%}, calls ringing not yet answered "
            f"{statistics.mean(r.idle_ringing for r in rs):.1%}, throttled to progressive "
            f"{statistics.mean(r.idle_throttled for r in rs):.1%} (mean of agents x day)"
        )
    print(
        f"{'erlang_b':<12} static dialer at {ABANDON_LIMIT:.0%} abandonment: occupancy {bound.occupancy:.1%}"
    )
    oracle_mean = statistics.mean(r.occupancy for r in results[SimMode.ORACLE])
    print(f"gap predictive -> oracle: {oracle_mean - statistics.mean(occ):.1%} points (mean)")
    print(
        f"predictive day wall time: mean {statistics.mean(walls):.2f} s, max {max(walls):.2f} s; "
        f"CPU time: mean {statistics.mean(cpus):.2f} s, max {max(cpus):.2f} s"
    )

    failures = []
    if min(occ) < OCCUPANCY_GOAL:
        failures.append(f"occupancy {min(occ):.1%} < {OCCUPANCY_GOAL:.0%}")
    if max(abandon) > ABANDON_LIMIT:
        failures.append(f"abandonment {max(abandon):.2%} > {ABANDON_LIMIT:.1%}")
    if args.hours >= 8 and max(walls) > DAY_WALL_GOAL_S:
        failures.append(f"day wall time {max(walls):.1f} s > {DAY_WALL_GOAL_S:.0f} s")
    print("GOALS MET" if not failures else "GOALS MISSED: " + "; ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
