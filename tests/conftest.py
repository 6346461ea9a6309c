"""Hypothesis settings profiles, chosen by the HYPOTHESIS_PROFILE environment variable (default `dev`).

- `dev`: a quick local run (the whole suite well under two minutes);
- `ci`: more examples and no per-example deadline, since shared CI machines have noisy timings;
- `nightly`: a long search for the rare inputs the shorter runs do not reach.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", max_examples=25)
settings.register_profile("ci", max_examples=100, deadline=None, print_blob=True)
settings.register_profile("nightly", max_examples=5000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
