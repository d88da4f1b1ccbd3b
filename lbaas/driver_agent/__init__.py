"""The driver agent: octavia-lib's status, stats and get unix sockets, and provider agents.

A provider driver that reports through `octavia_lib.api.drivers.driver_lib.DriverLibrary`
talks to these sockets; `server.DriverAgent` serves them on the core's status callback and
supervises the provider agents named in `[driver_agent] enabled_provider_agents`. It runs
as `lbaas-driver-agent` or inside `lbaas serve`. Importing this package is cheap: the
options live in `config`, the rest is imported by whoever starts an agent.
"""
