"""Connectors: what joins Logloom to the world outside Python, built on ``engine``'s public
API and ``engine.client`` only (layer 8, ``docs/architecture.md``).

Each connector is an optional extra, imported on its own: ``connectors.http`` needs
``logloom[http]``. Nothing in ``engine`` imports this package.
"""
