"""lbaas-sample-driver: an out-of-tree Octavia provider driver, installed like any other."""
from setuptools import setup

setup(
    name="lbaas-sample-driver",
    version="1.0.0",
    description="A sample third-party Octavia provider driver that reports through "
                "octavia-lib's DriverLibrary sockets",
    packages=["lbaas_sample_driver"],
    install_requires=["octavia-lib"],
    entry_points={
        "octavia.api.drivers": [
            "sample = lbaas_sample_driver.driver:SampleProviderDriver",
            "sample_broken = lbaas_sample_driver.driver:BrokenSampleProviderDriver",
        ],
        "octavia.driver_agent.provider_agents": [
            "sample_agent = lbaas_sample_driver.agent:sample_agent",
        ],
    },
)
