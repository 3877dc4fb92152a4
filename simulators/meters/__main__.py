"""CLI: python -m simulators.meters --site sites/demo.yaml --secrets var/secrets.json --port 1883 --days 30."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from core.config import SiteConfig, load_site
from core.logs import add_log_args, setup_logging
from simulators.meters.faults import FAULT_NAMES, default_plan
from simulators.meters.generator import GenOptions
from simulators.meters.publisher import PublishError
from simulators.meters.runner import receive_clock, run_site, site_publications
from simulators.meters.transparent import FrameOptions
from simulators.meters.truth import Manifest, summarise

logger = logging.getLogger("simulators.meters")

EPILOG = """\
fast: publish [now - days, now) as fast as the broker acks, then exit.
realtime: replay the last `days` (default 1) at --speed x, then carry on live at 1x until SIGTERM / Ctrl-C
(or until --end). Faults are placed within the first `days` of the run.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simulators.meters",
        description="Simulate a site's meter gateways over MQTT, with seeded load models and fault injection.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--site", required=True, type=Path, help="site YAML file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--secrets", type=Path, help="JSON file {account: password}; needed unless --dry-run")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mode", choices=("fast", "realtime"), default="fast")
    p.add_argument("--speed", type=float, default=1.0, help="realtime: simulated seconds per wall second")
    p.add_argument("--days", type=float, help="simulated days (fast: default 30; realtime: history, default 1)")
    p.add_argument("--start", help="ISO start time (site-local without an offset); default: see below")
    p.add_argument("--end", help="ISO end time; default: start + days (fast), never (realtime)")
    p.add_argument("--faults", default="", help=f"comma list of {', '.join(FAULT_NAMES)}, or all")
    p.add_argument("--batch", type=int, default=1, help="reading intervals per publication")
    p.add_argument("--single", action="store_true", help="one reading object per publication")
    p.add_argument("--ts-format", choices=("rfc3339", "epoch_ms", "mixed"), default="rfc3339")
    p.add_argument("--mixed-units", action="store_true", help="some meters in Wh / MWh / L")
    p.add_argument(
        "--frame-corrupt-rate",
        type=float,
        help="transparent gateways: chance of a corrupted byte per frame (default: 0.01 with --faults malformed)",
    )
    p.add_argument("--truth", type=Path, help="write the expected readings as JSON lines here (bounded runs)")
    p.add_argument("--dry-run", action="store_true", help="generate only, no broker (bounded runs)")
    p.add_argument("--log-level", default="INFO")
    add_log_args(p)
    return p


def _moment(text: str, site: SiteConfig) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=site.tz)


def _window(site: SiteConfig, args: argparse.Namespace) -> tuple[datetime, datetime | None, datetime]:
    """Start, end (None: endless) and the end of the span that faults are placed in."""
    fast = args.mode == "fast"
    span = timedelta(days=args.days if args.days is not None else (30 if fast else 1))
    step = max(m.interval_s for m in site.meters)
    now = datetime.fromtimestamp(int(time.time()) // step * step, UTC)
    if args.start:
        start = _moment(args.start, site)
    elif fast:
        start = now - span
    else:  # replay `span` of history at `speed`, catching up with the wall clock just as it ends
        back = span * (1 - 1 / args.speed) if args.speed > 1 else timedelta(0)
        start = datetime.fromtimestamp(int((now - back).timestamp()) // step * step, UTC)
    end = _moment(args.end, site) if args.end else (start + span if fast else None)
    return start, end, (end or start + span)


def _write_truth(path: Path, manifest: Manifest) -> None:
    with path.open("wb") as out:
        for r in sorted(manifest.expected.values(), key=lambda r: (r.meter, r.ts_ms)):
            line = {"meter": r.meter, "ts_ms": r.ts_ms, "raw": r.raw, "unit": r.unit, "value": r.value, "seq": r.seq}
            out.write(orjson.dumps(line) + b"\n")


def _run(args: argparse.Namespace, stop: threading.Event) -> tuple[str, Manifest]:
    site = load_site(args.site)
    start, end, plan_end = _window(site, args)
    names = [n.strip() for n in args.faults.split(",") if n.strip()]
    plan = default_plan(site, start, plan_end, names, args.seed)
    options = GenOptions(
        batch_intervals=args.batch,
        shape="single" if args.single else "batch",
        ts_format=args.ts_format,
        mixed_units=args.mixed_units,
    )
    frames = FrameOptions(corrupt_rate=args.frame_corrupt_rate)
    if args.dry_run:
        if end is None:
            raise ValueError("--dry-run needs a bounded run (fast mode, or --end)")
        clock = receive_clock(args.mode, int(start.timestamp() * 1000), args.speed, int(time.time() * 1000))
        began = time.monotonic()
        pubs = site_publications(
            site, args.seed, start, end, faults=plan, options=options, frames=frames, receive_ms=clock
        )
        manifest = summarise(pubs)
        return (
            f"{site.site.id} dry run: {manifest.publications} publications ({manifest.malformed_publications} "
            f"malformed), {manifest.readings_sent} readings, {manifest.distinct} distinct, "
            f"{time.monotonic() - began:.1f} s"
        ), manifest
    if args.secrets is None:
        raise ValueError("--secrets is required unless --dry-run")
    passwords = json.loads(args.secrets.read_text(encoding="utf-8"))
    if not isinstance(passwords, dict):
        raise ValueError(f"{args.secrets}: expected a JSON object of account -> password")
    logger.info("site %s: simulating %s .. %s (%s), faults %s", site.site.id, start, end or "forever", args.mode, names)
    result = run_site(
        site, args.host, args.port, passwords, args.seed, start, end, args.mode, args.speed,
        faults=plan, options=options, frames=frames, stop=stop, keep_readings=end is not None,
    )  # fmt: skip
    return f"{site.site.id}: {result.summary()}", result.manifest


def main(argv: list[str] | None = None) -> int:
    """Run the simulator; print a one-line summary; exit 1 on configuration or broker errors."""
    args = _parser().parse_args(argv)
    setup_logging("meter-simulator", args.log_format, args.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):  # finish cleanly: flush, say offline, print the summary
        signal.signal(sig, lambda *_: stop.set())
    try:
        line, manifest = _run(args, stop)
    except (ValueError, OSError, PublishError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.truth:
        _write_truth(args.truth, manifest)
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
