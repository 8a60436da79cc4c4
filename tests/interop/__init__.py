"""Clients nobody here wrote, run against the emulator and compared with this SDK."""
