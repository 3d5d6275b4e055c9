"""Demo Egna fält (FAQ 23): an "Avtal" tab on the company card with values on several
companies, a "Intressen" tab on the contact card, and a shared report on the agreements."""

import random
from datetime import timedelta

from sqlalchemy.orm import Session

from models import CustomFieldDefinition, CustomTab, utcnow
from services import custom_fields, report_generator

SUPPORT_LEVELS = ("Guld", "Silver", "Brons")


def seed_custom_fields(session: Session, rng: random.Random, companies, admin) -> None:
    """Tabs and fields as an administrator defines them; values typed as on the card (services.custom_fields)."""
    agreement = CustomTab(name="Avtal", applies_to="company", sort_order=10)
    fields = {
        label: CustomFieldDefinition(
            tab=agreement, label=label, field_type=kind, sort_order=(n + 1) * 10, choices=choices
        )
        for n, (label, kind, choices) in enumerate(
            [
                ("Avtalsnummer", "text", None),
                ("Avtalsslut", "date", None),
                ("Licenser", "number", None),
                ("Supportnivå", "choice", "\n".join(SUPPORT_LEVELS)),
                ("Referenskund", "bool", None),
                ("Avtalsvillkor", "longtext", None),
            ]
        )
    }
    interests = CustomTab(name="Intressen", applies_to="contact", sort_order=10)
    newsletter = CustomFieldDefinition(tab=interests, label="Nyhetsbrev", field_type="bool")
    session.add_all([agreement, interests, newsletter])
    session.flush()

    today = utcnow().date()
    for n, company in enumerate(companies[:8]):
        end = today + timedelta(days=rng.randint(-30, 400))
        custom_fields.save_tab(
            session,
            company,
            agreement,
            {
                f"field-{fields['Avtalsnummer'].id}": f"AV-{2024 + n % 3}-{100 + n * 7}",
                # typed the two ways Swedes write dates and numbers
                f"field-{fields['Avtalsslut'].id}": end.isoformat() if n % 2 else end.strftime("%d.%m.%Y"),
                f"field-{fields['Licenser'].id}": str(rng.choice((5, 10, 25, 50, 120, 1250))),
                f"field-{fields['Supportnivå'].id}": SUPPORT_LEVELS[n % 3],
                f"field-{fields['Referenskund'].id}": "1" if n % 3 == 0 else "0",
                f"field-{fields['Avtalsvillkor'].id}": "Uppsägningstid tre månader." if n % 4 == 0 else "",
            },
        )

    report_generator.save(
        session,
        admin,
        "Kundavtal efter avtalsslut",
        report_generator.parse(
            {
                "entity": "company",
                f"cf{fields['Avtalsslut'].id}_from": "2000-01-01",  # those with an agreement
                "col": [
                    "name",
                    f"cf{fields['Avtalsnummer'].id}",
                    f"cf{fields['Avtalsslut'].id}",
                    f"cf{fields['Licenser'].id}",
                    f"cf{fields['Supportnivå'].id}",
                    "owner",
                ],
                "sort": f"cf{fields['Avtalsslut'].id}",
            },
            session=session,
        ),
        shared=True,
    )
