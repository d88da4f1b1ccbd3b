"""End-to-end benchmarks of lbaas, run from the repository root as `python -m bench.<name>`.

Benchmarks: `api` (the API on PostgreSQL and MariaDB, side by side), `reads` (the polled
GETs at 10 and 10,000 load balancers, their 304s, beside upstream), `servers`
(server models for `lbaas-api`: CPU per request in one run), `amphora` (the amphora
provider; `--compute nova` runs `amphora_nova`: VM amphorae through Nova on a real
cloud, beside the namespace figures), `failover` (amphora failover under traffic), `tls`
(TLS termination), `ovn` (the
OVN provider), `scale` (the amphora control plane with 1, 2, 3 workers); see
bench/README.md. Shared parts: `harness` (figures, CPU, signals, how a run ends, JSON),
`client` (HTTP), `wrk` (the load generator), `world` (the amphora benchmarks' bridges,
backends and `lbaas serve` instances), `app_server` (their `app` backend), `cloud`
(Keystone, Neutron on OVN and Nova with libvirt, for the Neutron and Nova modes),
`neutron_world` (a user's networks, client and members on Neutron ports, `lbaas serve` on
that cloud), `amphora_neutron` and `ovn_neutron` (the `--network neutron` modes of
`amphora` and `ovn`). The real components they start come from `testbed`, as the tests' do.
"""
