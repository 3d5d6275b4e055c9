"""Demo saved reports for CRM – Rapportgenerator (FAQ 22: "en rapport på alla dina kunder")."""

from sqlalchemy.orm import Session

from services import report_generator


def seed_reports(session: Session, sellers, admin) -> None:
    """A private "Mina kunder" per seller, and two reports the administrator shares."""
    for seller in sellers:
        report_generator.save(
            session,
            seller,
            "Mina kunder",
            report_generator.parse(
                {
                    "entity": "company",
                    "owner": "me",
                    "col": ["customer_number", "name", "postal_city", "phone", "email", "status"],
                    "sort": "name",
                }
            ),
            shared=False,
        )
    report_generator.save(
        session,
        admin,
        "Säljmöjligheter per förväntat avslut",
        report_generator.parse(
            {
                "entity": "opportunity",
                "col": ["close_date", "title", "customer", "stage", "amount", "weighted", "owner"],
                "sort": "close_date",
            }
        ),
        shared=True,
    )
    report_generator.save(
        session,
        admin,
        "Leverantörer i Stockholm",
        report_generator.parse(
            {"entity": "supplier", "city": "Stockholm", "col": ["name", "org_number", "phone", "email", "owner"]}
        ),
        shared=True,
    )
