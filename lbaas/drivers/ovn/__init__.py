"""The OVN provider driver: load balancers as rows of the OVN Northbound database."""
