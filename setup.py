"""Packaging for lbaas; every plugin point is declared in entry_points.cfg."""
import configparser
import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent


def entry_points():
    """Read the entry-point groups from entry_points.cfg, the one place they live."""
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str
    parser.read(HERE / "entry_points.cfg")
    return {
        group: [f"{name} = {target}" for name, target in parser.items(group)]
        for group in parser.sections()
    }


def requirements(name):
    """Read a requirements file, skipping comments."""
    lines = (HERE / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


setup(
    name="lbaas",
    version="0.1.0",
    description="Load balancing as a service speaking the OpenStack Octavia v2 API",
    python_requires=">=3.11",
    packages=find_packages(include=["lbaas", "lbaas.*"]),
    package_data={"lbaas": ["db/alembic.ini", "db/migrations/*.py",
                            "db/migrations/versions/*.py",
                            "drivers/amphora/haproxy/templates/*.j2",
                            "drivers/amphora/lvs/templates/*.j2"]},
    install_requires=requirements("requirements.txt"),
    entry_points=entry_points(),
)
