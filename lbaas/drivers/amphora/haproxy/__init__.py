"""HAProxy configuration for one load balancer, rendered from octavia-lib data models."""
