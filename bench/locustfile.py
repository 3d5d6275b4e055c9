"""The load run's simulated employees (bench/scale_bench.py load): they log in, browse the
company list page by page, search, open customer cards and their tabs, and save edits of a
card's Inställningar (with the version they read, so a colleague's newer save is refused as
stale, which is an answer, not an error).

Runs in .venv-bench (bench/requirements.txt); BENCH_COMPANY_MIN/MAX and BENCH_TERMS come from
scale_bench.py."""

import json
import os
import random
import re

from locust import HttpUser, between, task

LOGINS = [("erik.johansson@example.se", "Demo-losen-2026"), ("maria.svensson@example.se", "Demo-losen-2026")]
LOW, HIGH = int(os.environ.get("BENCH_COMPANY_MIN", "1")), int(os.environ.get("BENCH_COMPANY_MAX", "1000"))
TERMS = json.loads(os.environ.get("BENCH_TERMS", '["berg"]'))
NEXT = re.compile(r'id="page-next" rel="next" href="([^"]+)"')
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
VERSION = re.compile(r'name="version" type="hidden" value="(\d+)"|name="version" value="(\d+)"')


class Employee(HttpUser):
    wait_time = between(0.5, 2)

    def on_start(self):
        page = self.client.get("/login", name="/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        email, password = random.choice(LOGINS)
        self.client.post("/login", {"email": email, "password": password, "csrf_token": token}, name="/login POST")

    def _company(self) -> int:
        return random.randint(LOW, HIGH)

    @task(4)
    def browse(self):
        page = self.client.get("/admin/company/", name="list").text
        for _ in range(random.randint(1, 3)):
            found = NEXT.search(page)
            if not found:
                break
            page = self.client.get(found.group(1).replace("&amp;", "&"), name="list, next page").text

    @task(3)
    def search(self):
        self.client.get("/admin/company/", params={"search": random.choice(TERMS)}, name="quick search")

    @task(3)
    def open_card(self):
        company = self._company()
        with self.client.get(f"/admin/company/card/{company}", name="card", catch_response=True) as response:
            if response.status_code == 404:  # a company in the trash (or an id never used): fine
                response.success()
                return
        for tab in random.sample(["contacts", "activities", "history", "invoices", "opportunities"], 2):
            self.client.get(f"/admin/company/card/{company}/tab/{tab}", name=f"card tab {tab}")

    @task(1)
    def save_settings(self):
        company = self._company()
        url = f"/admin/company/card/{company}?tab=settings"
        with self.client.get(url, name="card settings", catch_response=True) as r:
            if r.status_code == 404:
                r.success()
                return
            page = r.text
        version = VERSION.search(page)
        token = CSRF.search(page)
        if not version or not token:
            return
        self.client.post(
            f"/admin/company/card/{company}/settings",
            {
                "invoice_language": "sv",
                "discount_percent": str(random.choice((0, 5, 10))),
                "payment_terms_days": str(random.choice((10, 20, 30))),
                "currency": "SEK",
                "version": version.group(1) or version.group(2),
                "csrf_token": token.group(1),
            },
            name="save settings",
        )
