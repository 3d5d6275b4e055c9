"""Demo data for Administration – Import: a finished import of trade-fair leads."""

import io

from sqlalchemy.orm import Session

from models import Employee
from services.importing import jobs

#: As a fair's lead scanner exports it: semicolons, Windows-1252, one bad e-mail address.
LEADS_CSV = """Företag;Org.nr;Förnamn;Efternamn;Titel;Telefon;E-post;Källa;Kategori
Fjällbygg Norr AB;556703-7485;Jonas;Lindberg;VD;070-123 45 67;jonas.lindberg@fjallbygg.se;Byggmässan 2026;Mässa 2026
Solkraft i Väst AB;556812-3417;Helena;Åberg;Inköpschef;031-712 34 56;helena.aberg@solkraft.se;Byggmässan 2026;Mässa 2026
Kafferosteriet Öland AB;559012-0019;Per;Öst;Ägare;0485-123 45;per@kafferosteriet;Byggmässan 2026;Mässa 2026
Nordisk Trävaru AB;556477-9287;Sofia;Berg;Ekonomichef;090-12 34 56;sofia.berg@nordisktra.se;Byggmässan 2026;Mässa 2026
"""


def seed_imports(session: Session, storage, actor: Employee) -> None:
    """Import LEADS_CSV as the administrator would (dry run, then the import; the bad row is skipped)."""
    if storage is None:
        return
    job = jobs.create_job(
        session,
        storage,
        entity="lead",
        filename="mässleads-byggmässan-2026.csv",
        stream=io.BytesIO(LEADS_CSV.encode("cp1252")),
        actor=actor,
        max_bytes=1024 * 1024,
    )
    job.match_key = "contact_email"
    session.commit()
    for write in (False, True):
        jobs.queue(session, job, write=write)
        session.commit()
        jobs.run(session, job.id, storage=storage, worker="flask seed")  # as a queue worker runs it
        session.expire_all()
