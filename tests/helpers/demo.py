"""What the demo tests share: freshly planted secrets and an environment that
keeps the caller's own logging destinations away from the demo."""

from __future__ import annotations

import os
import secrets

# Variables that would switch the demo away from the destination a test chose.
_FOREIGN_PREFIXES = ("REQLOG_ELASTICSEARCH_", "REQLOG_LOGSTASH_", "REQLOG_LOG_FILE")
_FOREIGN_NAMES = {"DJANGO_SETTINGS_MODULE", "REQLOG_DEMO_VAR_DIR", "REQLOG_KIBANA_URL"}


def planted_secrets(tag: str) -> dict[str, str]:
    """New values each run for every secret the demo sends, so a hit in any
    output can only come from this run's traffic."""
    return {
        "REQLOG_DEMO_PASSWORD": f"{tag}PlantedPw{secrets.token_hex(5)}",
        "REQLOG_DEMO_WRONG_PASSWORD": f"{tag}WrongPw{secrets.token_hex(5)}",
        "REQLOG_DEMO_SIGNUP_PASSWORD": f"{tag}SignupPw{secrets.token_hex(5)}",
        "REQLOG_DEMO_TOKEN": secrets.token_hex(20),
        "REQLOG_DEMO_ALICE_TOKEN": secrets.token_hex(20),
    }


def demo_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_FOREIGN_PREFIXES) and k not in _FOREIGN_NAMES
    }
    env.update(extra)
    return env
