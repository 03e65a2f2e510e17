"""Create the demo users, their tokens and a few items (idempotent)."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from shop.models import Item


class Command(BaseCommand):
    help = (
        "Create users demo/alice/bob with tokens. Passwords and the demo token come from "
        "REQLOG_DEMO_PASSWORD / REQLOG_DEMO_TOKEN / REQLOG_DEMO_ALICE_TOKEN so they never "
        "appear on a command line."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ["REQLOG_DEMO_PASSWORD"]
        tokens = {
            "demo": os.environ["REQLOG_DEMO_TOKEN"],
            "alice": os.environ["REQLOG_DEMO_ALICE_TOKEN"],
            "bob": None,
        }
        users = get_user_model()
        for username, token_key in tokens.items():
            user, _created = users.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.set_password(password)
            user.save()
            Token.objects.filter(user=user).delete()
            if token_key:
                Token.objects.create(user=user, key=token_key)
            for number in range(1, 4):
                Item.objects.get_or_create(
                    sku=f"{username.upper()}-{number:03d}",
                    defaults={
                        "name": f"{username}'s item {number}",
                        "price": Decimal("9.99") * number,
                        "quantity": number * 5,
                        "owner": user,
                    },
                )
        self.stdout.write(f"seeded {len(tokens)} users")
