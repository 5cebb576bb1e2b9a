"""`make bench` / `python -m bench [SECTION ...]`: measure, print tables, write RESULTS.md.

Benchmarks measure, they do not assert: each table shows its target next to the number, and
ratios are against a baseline measured in the same run (machines are noisy). A full run (all
sections) also writes bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from bench import report

SECTIONS = ("webhooks", "decide", "admin", "delivery", "sse", "campaigns", "autoreply")


def run_section(name: str) -> list[report.Table]:
    if name == "webhooks":
        from bench import webhooks

        return webhooks.run()
    if name == "decide":
        from bench import decide

        return decide.run()
    if name == "sse":
        from bench import sse

        return sse.run()
    if name == "delivery":
        from bench import delivery

        return delivery.run()
    if name == "campaigns":
        from bench import campaigns

        return campaigns.run()
    if name == "autoreply":
        from bench import autoreply

        return autoreply.run()
    from bench import admin_pages

    return admin_pages.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help=f"one or more of {', '.join(SECTIONS)} (default: all of them)")
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md even for some sections")
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    sections = args.sections or list(SECTIONS)
    started = time.monotonic()
    facts = report.machine_facts()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), flush=True)
    tables: list[report.Table] = []
    failed = False
    for name in sections:
        section_started = time.monotonic()
        print(f"\n-- {name} ...", flush=True)
        try:
            found = run_section(name)
        except Exception:
            failed = True
            traceback.print_exc()
            found = [report.Table(f"{name}: failed", ["error"], [[traceback.format_exc().splitlines()[-1]]])]
        for table in found:
            print(table.text(), flush=True)
        print(f"-- {name} took {time.monotonic() - section_started:.0f} s", flush=True)
        tables += found
    elapsed = time.monotonic() - started
    print(f"\nbench took {elapsed:.0f} s", flush=True)
    if args.write or not args.sections:
        command = "make bench" if not args.sections else "python -m bench " + " ".join(sections)
        report.write_results(tables, facts, command, elapsed)
        print(f"wrote {report.RESULTS.relative_to(report.RESULTS.parent.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
