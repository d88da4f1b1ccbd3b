"""A sample out-of-tree Octavia provider driver (octavia-lib only)."""
