"""The `nps-risk` command line: parses arguments and hands over to the package that owns the job.

Domain errors end as one readable line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from nps_core.errors import NpsRiskError

Handler = Callable[[argparse.Namespace], int]


def _cmd_simulate(args: argparse.Namespace) -> int:
    from features.simulate import SimulationConfig, simulate, write_simulation

    config = SimulationConfig(
        customers=args.customers, days=args.days, seed=args.seed, start=args.start
    )
    sim = simulate(config)
    write_simulation(sim, args.out)
    print(
        f"simulated {len(sim.customers):,} customers, {len(sim.interactions):,} interactions, "
        f"{len(sim.surveys):,} survey answers over {args.days} days (seed {args.seed}) -> {args.out}"
    )
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from features.importer import import_export

    report = import_export(args.source, args.mapping, args.out)
    print(report.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nps-risk",
        description="Predict which customers are about to become NPS Detractors, and why.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "simulate", help="write simulated canonical tables and the true probabilities"
    )
    p.add_argument("--customers", type=int, default=2000)
    p.add_argument("--days", type=int, default=180)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", default="2026-01-01", help="first simulated day (UTC)")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(handler=_cmd_simulate)

    p = sub.add_parser("import", help="turn a helpdesk export into canonical tables + quarantine")
    p.add_argument("source", type=Path)
    p.add_argument("--mapping", type=Path, required=True, help="TOML column mapping")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(handler=_cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except NpsRiskError as exc:
        print(f"nps-risk {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"nps-risk {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
