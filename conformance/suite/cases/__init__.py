"""The conformance cases: one module per mini-protocol (and the mux, hostile input, node-to-client).

Run them through `ouroboros-conformance run` (or `pytest --pyargs conformance.suite.cases --peer ...`);
every case names the requirement ids it checks with `@pytest.mark.requirement`.
"""
