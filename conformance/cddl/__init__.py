"""CDDL validation of wire bytes against the upstream specification, vendored in `spec/cddl/` (see SOURCE.md).

The upstream files use the module directives of the Ruby tool cddlc (`;# import X as Y`, `;# include X`),
which no Python CDDL library understands. `flattened()` resolves them the way cddlc does, following the
CDDL-modules draft: the rules of file `X` are inlined with every name prefixed `Y.` (CDDL identifiers may
contain dots, and pycddl accepts them; nested prefixes compose, `v14.base.word32`), `import` brings in only
the rules the importer reaches, `include` all of them. The protocol's message rule comes first, because
pycddl validates against the first rule. pycddl 0.6.4 misreads some type choices, so what it compiles is a
meaning-preserving rewrite of that text (see the section "Compiling for pycddl" in `pycddl_compile`).

Disagreements are data, not code. `cddl_deviations.yaml` holds where the CDDL and the Haskell node differ
(with the amendment that makes the CDDL say what the node does) and where pycddl differs from RFC 8610;
`vectors/cddl-findings.yaml` holds where our decoder and the CDDL disagree on golden messages, as they are
and mutated (`mutations()`), each with its cause and explanation. tests/test_cddl.py keeps both true.

The package, from the bottom layer up (nothing imports upward): `spec` (which file and rule each protocol
must satisfy, the lexer, the module directives), `pycddl_compile` (the rewrite for pycddl, `validate`),
`matchers` and `known_deviations` (cddl_deviations.yaml, amendments), `mutate` (mutations of golden
messages), `verdicts` (decoder and CDDL verdicts), `explain` (why they disagree), `findings` (the findings
file) and `cli` (the command line, run by `__main__`).

    python -m conformance.cddl flatten chain-sync [--pycddl]   # the flattened schema (or what pycddl gets)
    python -m conformance.cddl check                           # every golden message against its CDDL
    python -m conformance.cddl findings [--write]              # compare with (or rewrite) the findings file
"""

from .cli import main
from .findings import compute_findings, load_findings
from .known_deviations import (
    MATCHERS,
    Deviation,
    ValidatorBug,
    deviations,
    deviations_for,
    validate_amended,
    validator_bugs,
)
from .message_mutations import mutations
from .pycddl_compile import CddlMismatch, accepts, pycddl_variants, validate, validate_text
from .spec import ENV_DIR, SCHEMAS, CddlError, _rules, described, flatten_file, flattened, schema_version, spec_dir
from .verdicts import vector_messages

__all__ = [
    "ENV_DIR",
    "MATCHERS",
    "SCHEMAS",
    "CddlError",
    "CddlMismatch",
    "Deviation",
    "ValidatorBug",
    "_rules",
    "accepts",
    "compute_findings",
    "deviations",
    "described",
    "deviations_for",
    "flatten_file",
    "flattened",
    "load_findings",
    "main",
    "mutations",
    "pycddl_variants",
    "schema_version",
    "spec_dir",
    "validate",
    "validate_amended",
    "validate_text",
    "validator_bugs",
    "vector_messages",
]
