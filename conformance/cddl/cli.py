"""The command line of `python -m conformance.cddl`: flatten, check, findings."""

from __future__ import annotations

from .findings import FINDINGS_FILE, compute_findings, load_findings, write_findings
from .pycddl_compile import pycddl_text
from .spec import SCHEMAS, flattened
from .verdicts import original_verdicts

# --------------------------------------------------------------------------------------------------
# Command line.


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from ..vectors import load_vectors
    from . import __doc__ as package_doc  # the package's summary, read when run: no import cycle

    parser = argparse.ArgumentParser(
        prog="python -m conformance.cddl", description=(package_doc or "").split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    flatten = commands.add_parser("flatten", help="print a protocol's flattened CDDL")
    flatten.add_argument("protocol", choices=sorted(SCHEMAS))
    flatten.add_argument("--pycddl", action="store_true", help="print what pycddl compiles (the rewritten variants)")
    commands.add_parser("check", help="validate every golden message against its protocol's CDDL")
    findings = commands.add_parser("findings", help="compare decoder and CDDL verdicts with the recorded findings")
    findings.add_argument("--write", action="store_true", help="rewrite vectors/cddl-findings.yaml")
    args = parser.parse_args(argv)

    if args.command == "flatten":
        text = flattened(args.protocol)
        print(pycddl_text(text) if args.pycddl else text, end="")
        return 0
    if args.command == "check":
        verdicts = original_verdicts(load_vectors())
        if not verdicts:  # checking nothing is never a pass
            print("error: no golden message vectors found to check", file=sys.stderr)
            return 1
        failed = 0
        for verdict in verdicts:
            print(f"{verdict.cddl:8} {verdict.schema:50} {verdict.vector}")
            failed += verdict.cddl != "accepts"
        print(f"{failed} of the {len(verdicts)} golden messages fail their CDDL (deviations applied)")
        return 0
    current = compute_findings(load_vectors())
    if args.write:
        write_findings(current)
        print(f"wrote {len(current)} findings to {FINDINGS_FILE}")
        return 0
    recorded = load_findings()
    now = {(f["vector"], f["mutation"]) for f in current}
    before = {(f["vector"], f["mutation"]) for f in recorded}
    for key in sorted(now - before):
        print("new:     ", *key, file=sys.stderr)
    for key in sorted(before - now):
        print("gone:    ", *key, file=sys.stderr)
    print(f"{len(current)} findings now, {len(recorded)} recorded")
    return 1 if now != before else 0
