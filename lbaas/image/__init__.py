"""The amphora image: a bootable disk of Debian packages plus this release of lbaas."""
