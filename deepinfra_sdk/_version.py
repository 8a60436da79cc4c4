"""The package version, in one place so setup.cfg and the User-Agent agree."""

__version__ = "0.1.0"
