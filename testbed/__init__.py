"""Real components that the tests and the benchmarks start, and nothing else.

`pg` (a throwaway PostgreSQL cluster), `service` (a process that answers HTTP, free ports),
`host` (free subnets, namespace support, processes), `backends` (HTTP backends and
namespaces), `ovn_stack` (a real OVN deployment), `tls_certs` (a CA and certificates).
Both `tests/` and `bench/` import it; it imports neither of them.
"""
