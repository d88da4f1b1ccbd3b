"""The OpenStack services lbaas meets in a cloud, run as real processes for the test suite
and the benchmarks: Keystone, Neutron on OVN, Nova with Placement and Glance, libvirt."""
