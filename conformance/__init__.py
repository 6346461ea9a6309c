"""ouroboros-conformance: a neutral conformance harness for the Cardano Ouroboros network protocols."""

__version__ = "0.1.0"
