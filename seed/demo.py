"""Demo data: a realistic Swedish customer register a new user can try at once.

`seed_demo` is idempotent: when the demo employees exist it does nothing.
Everything goes through the same models, numbering and audit as the UI.
"""

import io
import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import luhn

from models import (
    Category,
    Company,
    CompanyContact,
    Contact,
    EmailMessage,
    Employee,
    EmployeeGroup,
    Industry,
    Lead,
    MassMessage,
    Opportunity,
    Project,
    ProjectParticipant,
    SalesStage,
    utcnow,
)
from seed.custom_fields import seed_custom_fields
from seed.duplicates import seed_duplicates
from seed.importing import seed_imports
from seed.invoicing import seed_invoicing
from seed.reports import seed_reports
from services import (
    accounts,
    activities,
    audit,
    calllists,
    consent,
    files,
    leads,
    mass_messages,
    numbering,
    saved_searches,
    trash,
)
from services.audit import acting_as

DEMO_PASSWORD = "Demo-losen-2026"

#: (e-mail, name, role, title) of the demo employees.
DEMO_EMPLOYEES = [
    ("anna.lindqvist@example.se", "Anna Lindqvist", "admin", "VD"),
    ("erik.johansson@example.se", "Erik Johansson", "seller", "Säljare"),
    ("maria.svensson@example.se", "Maria Svensson", "seller", "Key account manager"),
    ("karin.nilsson@example.se", "Karin Nilsson", "finance", "Ekonomiansvarig"),
    ("olof.berg@example.se", "Olof Berg", "readonly", "Praktikant"),
]
DEMO_LOGINS = [(email, DEMO_PASSWORD, role) for email, _name, role, _title in DEMO_EMPLOYEES]

INDUSTRIES = [
    ("Byggverksamhet", "41"),
    ("Partihandel", "46"),
    ("Detaljhandel", "47"),
    ("Restaurang och catering", "56"),
    ("Dataprogrammering och IT-konsulter", "62"),
    ("Redovisning och revision", "69.2"),
    ("Arkitekt- och teknisk konsultverksamhet", "71"),
    ("Tillverkning av livsmedel", "10"),
    ("Transport och magasinering", "49"),
    ("Fastighetsförvaltning", "68"),
]
CATEGORIES = [
    ("A-kund", "company"),
    ("B-kund", "company"),
    ("Nyhetsbrev", "both"),
    ("Julkort", "both"),
    ("Mässkontakt 2026", "contact"),
    ("Återförsäljare", "company"),
]
COMPANY_NAMES = [
    "Norrlands Bygg AB",
    "Svea Kaffe AB",
    "Mälardalens Elteknik AB",
    "Göta Trä & Virke AB",
    "Skånska Livs AB",
    "Fjällstugan Konferens AB",
    "Västkustens Fisk AB",
    "Dalarnas Måleri AB",
    "Öresunds Logistik AB",
    "Kungsholmens Redovisning AB",
    "Bergslagens Smide AB",
    "Hälsinge Snickeri AB",
    "Uppsala Datakonsult AB",
    "Sörmlands Trädgård AB",
    "Gotlands Ull & Garn AB",
    "Vätterns Marin AB",
    "Jämtlands Fjällguider AB",
    "Blekinge Glas AB",
    "Halland Solenergi AB",
    "Östgöta Fastigheter AB",
    "Lapplands Renprodukter AB",
    "Roslagens Båtvarv AB",
    "Värmlands Papper AB",
    "Småländska Möbler AB",
    "Stockholms Städservice AB",
    "Göteborgs Hamnkafé AB",
    "Malmö Cykelverkstad AB",
    "Norrköpings Tryckeri AB",
    "Örebro Bilvård AB",
    "Linköpings Arkitekter AB",
    "Umeå Webbyrå AB",
    "Luleå Stål & Plåt AB",
    "Karlstads Blommor AB",
    "Västerås Ventilation AB",
    "Jönköpings Bageri AB",
    "Sundsvalls Revision AB",
    "Gävle Golv & Kakel AB",
    "Borås Textil AB",
    "Växjö Glasmästeri AB",
    "Kalmar Sjöfart AB",
    "Nordic Parts GmbH",
    "Oslo Trelast AS",
]
CITIES = [
    ("Stockholm", "111", "8"),
    ("Göteborg", "411", "31"),
    ("Malmö", "211", "40"),
    ("Uppsala", "753", "18"),
    ("Örebro", "702", "19"),
    ("Linköping", "582", "13"),
    ("Umeå", "903", "90"),
    ("Luleå", "972", "920"),
    ("Västerås", "722", "21"),
    ("Jönköping", "553", "36"),
    ("Gävle", "803", "26"),
    ("Karlstad", "652", "54"),
]
STREETS = [
    "Storgatan",
    "Drottninggatan",
    "Kungsgatan",
    "Sveavägen",
    "Järnvägsgatan",
    "Industrivägen",
    "Hamngatan",
    "Skolgatan",
]
FIRST_NAMES = [
    "Lars",
    "Karin",
    "Anders",
    "Eva",
    "Johan",
    "Sara",
    "Per",
    "Lena",
    "Mikael",
    "Emma",
    "Nils",
    "Ingrid",
    "Oskar",
    "Elin",
    "Gustav",
    "Maja",
    "Fredrik",
    "Åsa",
    "Björn",
    "Linnéa",
]
LAST_NAMES = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Lindberg",
    "Holm",
    "Ström",
    "Åberg",
    "Öberg",
    "Ek",
]
ROLES = ["VD", "Inköpschef", "Ekonomiansvarig", "Projektledare", "Kontorschef", "Säljchef", None]


def org_number(rng: random.Random) -> str:
    """A valid-looking aktiebolag organisationsnummer (55xxxx-xxxx, correct check digit)."""
    body = "55" + "".join(str(rng.randint(0, 9)) for _ in range(7))
    return body + luhn.calc_check_digit(body)


def personal_number(rng: random.Random) -> str:
    body = f"{rng.randint(50, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(100, 999)}"
    return f"19{body[:6]}-{body[6:]}{luhn.calc_check_digit(body)}"


def phone_number(rng: random.Random, area: str) -> str:
    digits = 8 - len(area) + (1 if area == "8" else 0)
    return f"+46{area}{rng.randint(10 ** (digits - 1), 10**digits - 1)}"


def mobile_number(rng: random.Random) -> str:
    return f"+467{rng.choice('0236')}{rng.randint(1000000, 9999999)}"


def address(rng: random.Random):
    city, prefix, area = rng.choice(CITIES)
    return f"{rng.choice(STREETS)} {rng.randint(1, 80)}", f"{prefix} {rng.randint(10, 99)}", city, area


def _email_slug(text: str) -> str:
    table = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", " ": "", "&": ""})
    return text.lower().translate(table)


ACTIVITY_SUBJECTS = {
    "task": ["Skicka offert", "Följ upp offert", "Boka uppstartsmöte", "Uppdatera avtal", "Skicka prislista 2027"],
    "meeting": ["Uppstartsmöte", "Avstämning kvartal", "Leverantörsträff", "Visning av ny tjänst"],
    "call": ["Ringde om leveransdatum", "Samtal om fakturafråga", "Uppföljningssamtal"],
    "note": ["Kunden vill ha fakturor via e-post", "Ny inköpschef från januari", "Intresserad av serviceavtal"],
}
EMAIL_SUBJECTS = [
    "Offert på begäran",
    "Orderbekräftelse",
    "Fråga om faktura",
    "Mötesbokning",
    "Tack för mötet",
    "Prislista 2027",
]
PROJECTS = [("Ombyggnad kontor Göteborg", "active"), ("Nytt affärssystem", "planned"), ("Solceller lager", "done")]


def _seed_card(session: Session, rng: random.Random, companies, employees, storage) -> None:
    """Activities (some overdue), e-mail, projects and a few files on the customer cards."""
    now = utcnow().replace(second=0, microsecond=0)
    sellers = employees[1:3]
    for index, company in enumerate(companies):
        for n in range(rng.randint(1, 4)):
            kind = rng.choice(list(ACTIVITY_SUBJECTS))
            due = now + timedelta(days=rng.randint(-20, 30), hours=rng.randint(0, 8))
            activity = activities.create(
                session,
                company.owner or employees[0],
                kind=kind,
                subject=rng.choice(ACTIVITY_SUBJECTS[kind]),
                due_at=due,
                company_id=company.id,
                assignee_id=rng.choice(sellers).id,
            )
            if kind != "note" and due < now and n % 2 == 0:
                activities.set_done(activity, at=due)
        for n in range(rng.randint(0, 3)):
            outgoing = n % 2 == 0
            contact_email = company.email or "info@example.se"
            session.add(
                EmailMessage(
                    company_id=company.id,
                    direction="out" if outgoing else "in",
                    sender=(company.owner or employees[0]).email if outgoing else contact_email,
                    recipients=contact_email if outgoing else (company.owner or employees[0]).email,
                    subject=rng.choice(EMAIL_SUBJECTS),
                    body="Hej!\n\nTack för senast. Återkommer med mer information.\n\nVänliga hälsningar",
                    sent_at=now - timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 600)),
                    created_by_id=(company.owner or employees[0]).id,
                )
            )
        if storage is not None and index % 4 == 0:
            text = f"Avtal mellan {company.name} och oss, signerat {now.date().isoformat()}.\n".encode()
            files.upload(
                session,
                storage,
                actor=employees[0],
                stream=io.BytesIO(text),
                filename=f"Avtal {company.name}.txt",
                company_id=company.id,
            )
    companies[1].email_locked = True  # "Spärra tillgång" in use on one customer
    # Written from the card of a person at that customer: locked with it (services.email_lock).
    person = companies[1].contact_links[0].contact
    session.add(
        EmailMessage(
            contact=person,
            sender=employees[0].email,
            recipients=person.email,
            subject="Villkor för förlängt avtal",
            body="Hej!\n\nHär är våra villkor för ett förlängt avtal, enligt samtalet i går.\n\nVänliga hälsningar",
            sent_at=now - timedelta(days=2),
            created_by_id=employees[0].id,
        )
    )
    for (name, status), members in zip(PROJECTS, (companies[0:3], companies[3:5], companies[5:6]), strict=True):
        project = Project(
            name=name,
            status=status,
            owner=sellers[0],
            start_date=now.date() - timedelta(days=30),
            end_date=now.date() + timedelta(days=60) if status != "done" else now.date() - timedelta(days=2),
        )
        project.participants = [
            ProjectParticipant(company=c, role="Beställare" if i == 0 else "Partner") for i, c in enumerate(members)
        ]
        session.add(project)


#: Säljsteg: (name, default probability %, won, lost).
SALES_STAGES = [
    ("Kontakt", 10, False, False),
    ("Behovsanalys", 25, False, False),
    ("Offert", 50, False, False),
    ("Förhandling", 75, False, False),
    ("Vunnen", 100, True, False),
    ("Förlorad", 0, False, True),
]
OPPORTUNITY_TITLES = [
    "Serviceavtal 2027",
    "Ny webbplats",
    "Licenser affärssystem",
    "Utbildning personal",
    "Ramavtal förbrukning",
    "Konsulttimmar projekt",
    "Uppgradering server",
    "Solcellsanläggning",
    "Kontorsmöbler",
    "Städavtal",
]
LOST_REASONS = ["Valde en konkurrent", "Priset för högt", "Projektet lades ned"]


def _seed_sales(session: Session, rng: random.Random, companies, private_customers, sellers, admin) -> None:
    """Säljsteg and opportunities in every stage for several sellers, with some history."""
    today = utcnow().date()
    stages = [
        SalesStage(name=n, sort_order=(i + 1) * 10, probability=p, is_won=w, is_lost=lost)
        for i, (n, p, w, lost) in enumerate(SALES_STAGES)
    ]
    session.add_all(stages)
    owners = [*sellers, admin]
    customers = companies[:24] + private_customers[:4]
    for index, customer in enumerate(customers):
        stage = stages[index % len(stages)]
        opportunity = Opportunity(
            title=f"{OPPORTUNITY_TITLES[index % len(OPPORTUNITY_TITLES)]} – {customer.name}",
            owner=owners[index % len(owners)],
            stage=stages[0],
            amount=Decimal(rng.randrange(5_000, 900_000, 500)),
            close_date=today + timedelta(days=rng.randint(-30, 120)),
            source=rng.choice(["Webbformulär", "Mässa", "Rekommendation", "Ringlista", None]),
            kind=rng.choice(list(Opportunity.KINDS)),
            description="Kunden vill ha en offert före kvartalsskiftet." if index % 3 == 0 else None,
            **({"company": customer} if isinstance(customer, Company) else {"contact": customer}),
        )
        session.add(opportunity)
        session.flush()
        if stage is not stages[0]:  # moved along the process, so the history has a step
            opportunity.stage = stage
            if stage.is_lost:
                opportunity.lost_reason = rng.choice(LOST_REASONS)
            session.flush()


#: Leads: (company, contact first name, last name, title, source, status).
DEMO_LEADS = [
    ("Norrtälje Glasshus AB", "Hanna", "Wik", "VD", "Webbformulär", "new"),
    ("Alingsås Elservice AB", "Peter", "Lund", "Inköpare", "Mässa", "new"),
    ("Ystads Rökeri AB", "Sofia", "Berg", "Ägare", "Ringlista", "contacted"),
    ("Kiruna Maskin AB", "Jonas", "Niemi", "Driftchef", "Rekommendation", "contacted"),
    ("Trelleborgs Däck AB", "Ida", "Holm", "Ekonomichef", "Mässa", "qualified"),
    ("Motala Kanalbåtar AB", "Henrik", "Sjö", "VD", "Webbformulär", "disqualified"),
    ("Falu Koppar & Design AB", "Klara", "Dahl", "Inköpschef", "Ringlista", "qualified"),
]


def _seed_leads(session: Session, rng: random.Random, sellers, categories) -> None:
    """Leads in every status; the last one converted to a customer through services.leads."""
    now = utcnow().replace(second=0, microsecond=0)
    rows = []
    for index, (name, first, last, title, source, status) in enumerate(DEMO_LEADS):
        lead = Lead(
            company_name=name,
            org_number=org_number(rng),
            contact_first_name=first,
            contact_last_name=last,
            contact_title=title,
            contact_phone=mobile_number(rng),
            contact_email=f"{_email_slug(first)}@{_email_slug(name.rsplit(' ', 1)[0])}.se",
            source=source,
            status=status,
            owner=sellers[index % len(sellers)],
            note="Intresserad av offert till våren." if index % 2 else None,
            categories=rng.sample(categories, k=1),
        )
        session.add(lead)
        rows.append(lead)
    session.flush()
    for lead in rows[2:5]:
        activities.create(
            session, lead.owner, kind="call", subject="Första samtal", lead_id=lead.id, due_at=now - timedelta(days=3)
        )
    leads.convert(session, sellers[0], rows[-1])
    return rows


def _seed_consents(session: Session, rng: random.Random, demo_leads) -> None:
    """Samtycke och rättslig grund as a real register has them: business contacts under berättigat
    intresse (some opted in to e-mail news, a few declined calls), private customers under avtal (some
    said yes to SMS, one no to e-mail), the fair visitors under samtycke given on a web form for
    e-mail only, and a lead that asked not to be called (so call lists leave it out)."""
    with consent.recorded_by(session, "demo"):
        for person in session.scalars(select(Contact).order_by(Contact.id)):
            if person.customer_number is not None:
                person.lawful_basis = "contract"
                person.consent_sms = True if rng.random() < 0.5 else None
            elif person.title == "Mässbesökare":
                person.lawful_basis = "consent"
                person.consent_email = True
            else:
                person.consent_email = True if rng.random() < 0.3 else None
                person.consent_phone = False if rng.random() < 0.1 else None
        private = session.scalars(select(Contact).where(Contact.customer_number.is_not(None)).order_by(Contact.id))
        private.first().consent_email = False
        demo_leads[0].consent_phone = False
        demo_leads[0].consent_email = True
    session.flush()


def _seed_mass_message(session: Session, seller) -> None:
    """A mass e-mail the seller sent to every contact last week ("Tidigare utskick"): who got it
    decided by the real rules (services.mass_messages), each message on the person's E-post tab and
    in its history, as the queue worker leaves them."""
    chosen = session.scalars(select(Contact.id).order_by(Contact.id))  # everyone in Kontakter and Privatkunder
    selection = mass_messages.select_recipients(session, "contact", list(chosen), "email")
    subject, body = (
        "Inbjudan till vårens kundträff",
        "Hej!\n\nVälkommen till vår kundträff den 12 maj.\n\nVänliga hälsningar",
    )
    sent_at = utcnow() - timedelta(days=6)
    with acting_as(session, seller.id):
        for person in session.scalars(select(Contact).where(Contact.id.in_(selection.included))):
            session.add(
                EmailMessage(
                    contact=person,
                    sender=seller.email,
                    recipients=person.email,
                    subject=subject,
                    body=body,
                    sent_at=sent_at,
                    created_by_id=seller.id,
                )
            )
            audit.record(session, person, "mass_email")
    session.add(
        MassMessage(
            channel="email",
            entity_type="contact",
            actor_id=seller.id,
            subject=subject,
            body=body,
            target_ids=selection.included,
            position=len(selection.included),
            sent_count=len(selection.included),
            skipped=dict(selection.skipped),
            status="done",
            at=sent_at,
            queued_at=sent_at,
            finished_at=sent_at + timedelta(minutes=1),
        )
    )


def _seed_call_list(session: Session, seller, demo_leads, companies) -> None:
    """A call list half worked: three calls made (to leads already contacted), three to go."""
    call_list = calllists.new_list(
        session, seller, [*demo_leads[2:5], demo_leads[1], *companies[5:7]], name="Mässuppföljning Elmia"
    )
    session.flush()
    now = utcnow().replace(second=0, microsecond=0)
    for entry, outcome in zip(call_list.entries, ["no_answer", "call_back", "interested"], strict=False):
        calllists.record_outcome(
            session,
            seller,
            entry,
            outcome,
            note="Demo",
            callback_at=now + timedelta(days=2) if outcome == "call_back" else None,
        )


def _seed_saved_searches(session: Session, seller, admin) -> None:
    """Sparade sökningar: the seller's own customers (Kundansvarig), and a shared search by city."""
    # flt0_0 is the companies list's first search option, Kundansvarig.
    saved_searches.save(session, seller, "company", "Mina kunder", [("flt0_0", str(seller.id))])
    saved_searches.save(session, admin, "company", "Kunder i Stockholm", [("search", "Stockholm")], shared=True)


def _seed_integrations(session: Session, seller, admin) -> None:
    """Administration – Integrationer: the web shop's API key (acting as a seller) and a revoked one.
    Their keys are not printed: create your own there or with `flask --app app api-key create`."""
    from services import api_keys

    api_keys.create(session, admin, employee=seller, name="Webbshop (WooCommerce)")
    old = api_keys.create(session, admin, employee=admin, name="Gammal Zapier-koppling").record
    api_keys.revoke(session, admin, old)
    # A webhook to the accounting system, switched off (the demo has no receiver), with a past log.
    import secrets

    from models import WebhookDelivery, WebhookSubscription

    hook = WebhookSubscription(
        name="Ekonomisystemet (kundsynk)",
        url="https://hooks.example.se/kundregister",
        events=["company.created", "company.updated", "opportunity.stage_changed"],
        secret=secrets.token_hex(32),
        active=False,
        created_by_id=admin.id,
    )
    session.add(hook)
    now = utcnow()
    for hours, status, code, error in ((30, "delivered", 200, None), (26, "failed", 503, "HTTP 503")):
        at = now - timedelta(hours=hours)
        session.add(
            WebhookDelivery(
                subscription=hook,
                event="company.updated",
                payload={"event": "company.updated", "occurred_at": at.isoformat() + "Z", "data": {"type": "company"}},
                status=status,
                attempts=1 if status == "delivered" else 12,
                created_at=at,
                last_attempt_at=at,
                delivered_at=at if status == "delivered" else None,
                response_code=code,
                error=error,
            )
        )


def seed_demo(session: Session, *, rng_seed: int = 2026, storage=None) -> bool:
    """Load the demo register; False when it is already there."""
    if session.scalar(select(Employee).where(Employee.email == DEMO_EMPLOYEES[0][0])):
        return False
    rng = random.Random(rng_seed)

    employees = []
    for email, name, role, title in DEMO_EMPLOYEES:
        employee = accounts.create_employee(session, email=email, name=name, role=role, password=DEMO_PASSWORD)
        employee.title = title
        employee.phone = mobile_number(rng)
        employees.append(employee)
    admin, sellers = employees[0], employees[1:3]
    session.add(EmployeeGroup(name="Säljteam Syd", kind="sales", members=[sellers[0]]))
    session.add(EmployeeGroup(name="Säljteam Nord", kind="sales", members=[sellers[1]]))
    session.add(EmployeeGroup(name="Ledning", kind="standard", members=[admin, employees[3]]))
    session.flush()

    with acting_as(session, admin.id):
        industries = [Industry(name=n, sni_code=c) for n, c in INDUSTRIES]
        categories = [Category(name=n, applies_to=a) for n, a in CATEGORIES]
        session.add_all(industries + categories)
        company_categories = [c for c in categories if c.applies_to != "contact"]
        contact_categories = [c for c in categories if c.applies_to != "company"]

        companies = []
        for index, name in enumerate(COMPANY_NAMES):
            foreign = not name.endswith(" AB")
            street, postcode, city, area = address(rng)
            company = Company(
                name=name,
                country={"GmbH": "DE", "AS": "NO"}.get(name.rsplit(" ", 1)[-1], "SE"),
                org_number=None if foreign else org_number(rng),
                status="bankrupt" if index == 17 else ("inactive" if index % 13 == 12 else "active"),
                industry=rng.choice(industries),
                owner=rng.choice(sellers) if index % 5 else admin,
                is_supplier=index % 7 == 3 or foreign,
                phone=None if foreign else phone_number(rng, area),
                email=f"info@{_email_slug(name.rsplit(' ', 1)[0])}.se",
                website=f"https://www.{_email_slug(name.rsplit(' ', 1)[0])}.se",
                postal_street=street,
                postal_postcode=postcode if not foreign else None,
                postal_city=city if not foreign else ("Hamburg" if "GmbH" in name else "Oslo"),
                visit_street=street if index % 2 else None,
                visit_postcode=postcode if index % 2 and not foreign else None,
                visit_city=city if index % 2 and not foreign else None,
                invoice_language="en" if foreign else "sv",
                currency="EUR" if "GmbH" in name else ("NOK" if foreign else "SEK"),
                discount_percent=Decimal(rng.choice(["0", "0", "5", "10"])),
                payment_terms_days=rng.choice([10, 20, 30, 30, 60]),
                note="Viktig kund – ring före leverans." if index % 9 == 0 else None,
                categories=rng.sample(company_categories, k=rng.randint(0, 2)),
            )
            companies.append(company)
            session.add(company)
        session.flush()

        used = set()
        for company in companies:
            for _ in range(rng.randint(1, 3)):
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                while (first, last) in used:
                    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                used.add((first, last))
                contact = Contact(
                    first_name=first,
                    last_name=last,
                    title=rng.choice(ROLES),
                    email=f"{_email_slug(first)}.{_email_slug(last)}@{company.email.split('@')[1]}",
                    phone=company.phone,
                    mobile=mobile_number(rng),
                    owner=company.owner,
                    categories=rng.sample(contact_categories, k=rng.randint(0, 1)),
                )
                session.add(contact)
                session.add(CompanyContact(company=company, contact=contact, role=contact.title))

        for index in range(8):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            street, postcode, city, _area = address(rng)
            person = Contact(
                first_name=first,
                last_name=last,
                email=f"{_email_slug(first)}.{_email_slug(last)}{index}@example.com",
                mobile=mobile_number(rng),
                personal_number=personal_number(rng),
                postal_street=street,
                postal_postcode=postcode,
                postal_city=city,
                owner=rng.choice(sellers),
                payment_terms_days=10,
            )
            session.add(person)
            session.flush()
            numbering.make_private_customer(session, person)

        for index in range(3):  # standalone contacts, not linked to any company
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            session.add(
                Contact(
                    first_name=first,
                    last_name=last,
                    title="Mässbesökare",
                    email=f"{_email_slug(first)}.{index}@example.org",
                    mobile=mobile_number(rng),
                )
            )
        session.flush()

        _seed_card(session, rng, companies, employees, storage)
        # Later edits, so Historik shows changed yes/no and number fields: the e-mail tab locked for a
        # while (and unlocked again) and a new discount.
        session.flush()
        companies[0].email_locked = True
        companies[0].discount_percent = Decimal("5.50")
        session.flush()
        companies[0].email_locked = False
        session.flush()
        private_customers = list(
            session.scalars(select(Contact).where(Contact.customer_number.is_not(None)).order_by(Contact.id))
        )
        _seed_sales(session, random.Random(rng_seed + 1), companies, private_customers, sellers, admin)
        demo_leads = _seed_leads(session, random.Random(rng_seed + 2), sellers, categories)
        _seed_consents(session, random.Random(rng_seed + 5), demo_leads)
        _seed_call_list(session, sellers[0], demo_leads, companies)
        _seed_mass_message(session, sellers[0])
        seed_invoicing(session, random.Random(rng_seed + 3), companies, private_customers, employees)
        _seed_saved_searches(session, sellers[0], admin)
        _seed_integrations(session, sellers[0], admin)
        seed_reports(session, sellers, admin)
        seed_custom_fields(session, random.Random(rng_seed + 4), companies, admin)
        seed_duplicates(session, companies, admin)

        # Two customers in the trash, so "Återställa kunder" has something to show.
        trash.delete(session, admin, Company, [companies[-3].id, companies[-4].id])
        # and the disqualified lead, so its Leads section has one too
        dropped = session.scalar(select(Lead).where(Lead.company_name == "Motala Kanalbåtar AB"))
        if dropped is not None:
            trash.delete(session, admin, Lead, [dropped.id])
    session.commit()
    seed_imports(session, storage, admin)
    return True
