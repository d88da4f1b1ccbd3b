"""The driver conformance suite: drive a provider through the whole contract, report what it supports.

Run `lbaas conformance --provider NAME` (or `pytest --pyargs lbaas.conformance -p
lbaas.conformance.plugin --provider NAME`); see docs/driver-authors.md, "Certifying your driver".
"""
