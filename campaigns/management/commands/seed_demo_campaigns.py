"""``manage.py seed_demo_campaigns``: a year of past randomised campaigns on the demo data, with a
true effect that differs by customer, and the uplift models learnt from them (campaigns/demo.py)."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from campaigns.demo import demo_campaigns_seed
from campaigns.models import Campaign
from customers.models import Order


class Command(BaseCommand):
    help = "Add past demo campaigns with randomised control groups and fit the uplift models."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--json", action="store_true", help="print what was made as JSON")

    def handle(self, *args, seed=42, **options):
        if not Order.objects.exists():
            raise CommandError("there are no orders: load the demo data first (manage.py seed_demo)")
        if Campaign.objects.filter(name__endswith="(demo)").exists():
            self.stdout.write("Demo campaigns exist already; nothing to do.")
            return
        result = demo_campaigns_seed(seed=seed)
        if options.get("json"):
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"{len(result['campaigns'])} past campaigns with control groups")
        for objective, outcome in result["uplift_models"].items():
            self.stdout.write(f"  uplift model for {objective}: {outcome}")
