"""A module that fails on import, for REQLOG_REDACT_CALLBACK validation."""

raise RuntimeError("broken on import")
