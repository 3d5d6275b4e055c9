"""Configuration, read from the environment in one place."""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _instance_dir() -> Path:
    path = Path(os.environ.get("CRM_INSTANCE_DIR", BASE_DIR / "instance"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_key(instance_dir: Path) -> str:
    """Return CRM_SECRET_KEY, or a key generated once and kept in instance/."""
    key = os.environ.get("CRM_SECRET_KEY")
    if key:
        return key
    key_file = instance_dir / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def load_config(overrides: dict | None = None) -> dict:
    """Build the Flask config from the environment, then apply overrides (tests)."""
    instance_dir = Path((overrides or {}).get("INSTANCE_DIR") or _instance_dir())
    instance_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "INSTANCE_DIR": str(instance_dir),
        "SECRET_KEY": _secret_key(instance_dir),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("CRM_DATABASE_URL", f"sqlite:///{instance_dir / 'crm.sqlite'}"),
        "UPLOAD_DIR": os.environ.get("CRM_UPLOAD_DIR", str(instance_dir / "uploads")),
        # The record of GDPR erasures kept outside the database, re-applied after a restore
        # (services/erasure_ledger.py): with several hosts, a file on storage they share.
        "ERASURE_LEDGER": os.environ.get("CRM_ERASURE_LEDGER", str(instance_dir / "erasures.jsonl")),
        "MAX_UPLOAD_BYTES": int(os.environ.get("CRM_MAX_UPLOAD_MB", "25")) * 1024 * 1024,
        # Requests larger than this are refused before they are read (a file plus its form).
        "MAX_CONTENT_LENGTH": (int(os.environ.get("CRM_MAX_UPLOAD_MB", "25")) + 1) * 1024 * 1024,
        # Import files may be larger than other uploads (the import streams them).
        "IMPORT_MAX_BYTES": int(os.environ.get("CRM_IMPORT_MAX_MB", "100")) * 1024 * 1024,
        # Processes that validate a large import file's rows (unset: one per CPU; 0 or 1: none).
        "IMPORT_WORKERS": int(os.environ["CRM_IMPORT_WORKERS"]) if os.environ.get("CRM_IMPORT_WORKERS") else None,
        # The task queue (services.tasks): on REDIS_URL when set, else in QUEUE_FILE; its name (keys, rows).
        "QUEUE_NAME": os.environ.get("CRM_QUEUE_NAME", "kundregister"),
        "QUEUE_FILE": os.environ.get("CRM_QUEUE_FILE", str(instance_dir / "queue.sqlite")),
        # A running job whose worker has not reported for this long is taken over by another worker.
        "JOB_STALLED_SECONDS": int(os.environ.get("CRM_JOB_STALLED_SECONDS", "30")),
        "BABEL_DEFAULT_LOCALE": os.environ.get("CRM_LOCALE", "sv"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("CRM_TIMEZONE", "Europe/Stockholm"),
        "BABEL_TRANSLATION_DIRECTORIES": str(BASE_DIR / "translations"),
        "SUPPORTED_LOCALES": ("sv", "en"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("CRM_SECURE_COOKIES", "0") == "1",
        "REMEMBER_COOKIE_SECURE": os.environ.get("CRM_SECURE_COOKIES", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # Redis (shared by every worker and host): login throttling and rate limits; unset: the database.
        "REDIS_URL": os.environ.get("CRM_REDIS_URL", ""),
        "REDIS_KEY_PREFIX": os.environ.get("CRM_REDIS_KEY_PREFIX", "crm:"),
        # Login sessions (server-side records, see services/login_sessions.py).
        "SESSION_IDLE_MINUTES": _int("CRM_SESSION_IDLE_MINUTES", 30),
        "SESSION_MAX_HOURS": _int("CRM_SESSION_MAX_HOURS", 8),
        "REMEMBER_DAYS": _int("CRM_REMEMBER_DAYS", 14),
        # Login throttling (services/throttle.py): failures within the window lock for the lockout.
        "LOGIN_MAX_FAILURES": _int("CRM_LOGIN_MAX_FAILURES", 10),
        "LOGIN_IP_MAX_FAILURES": _int("CRM_LOGIN_IP_MAX_FAILURES", 30),
        "LOGIN_WINDOW_MINUTES": _int("CRM_LOGIN_WINDOW_MINUTES", 15),
        "LOGIN_LOCKOUT_MINUTES": _int("CRM_LOGIN_LOCKOUT_MINUTES", 15),
        # Reverse proxies in front of the app whose X-Forwarded-For is trusted (0: none).
        "PROXY_COUNT": _int("CRM_PROXY_COUNT", 0),
        "FLASK_ADMIN_FLUID_LAYOUT": True,
        # E-mail from the customer card goes out through this SMTP server (none: sending is off).
        "SMTP_HOST": os.environ.get("CRM_SMTP_HOST", ""),
        "SMTP_PORT": int(os.environ.get("CRM_SMTP_PORT", "587")),
        "SMTP_SECURITY": os.environ.get("CRM_SMTP_SECURITY", "starttls"),  # starttls, ssl or none
        "SMTP_USER": os.environ.get("CRM_SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("CRM_SMTP_PASSWORD", ""),
        # SMS from the card through an SMS gateway with 46elks' HTTP API (no user: sending is off).
        "SMS_API_URL": os.environ.get("CRM_SMS_API_URL", "https://api.46elks.com/a1/sms"),
        "SMS_USERNAME": os.environ.get("CRM_SMS_USERNAME", ""),
        "SMS_PASSWORD": os.environ.get("CRM_SMS_PASSWORD", ""),
        "SMS_SENDER": os.environ.get("CRM_SMS_SENDER", "Kundreg"),
        # Företagsuppslag online: Bolagsverket's API "Värdefulla datamängder" v1 (no client id: the
        # bulk file only). The client id and secret come from Bolagsverket's API portal.
        "REGISTRY_API_URL": os.environ.get(
            "CRM_REGISTRY_API_URL", "https://gw.api.bolagsverket.se/vardefulla-datamangder/v1"
        ),
        "REGISTRY_API_TOKEN_URL": os.environ.get(
            "CRM_REGISTRY_API_TOKEN_URL", "https://portal.api.bolagsverket.se/oauth2/token"
        ),
        "REGISTRY_API_CLIENT_ID": os.environ.get("CRM_REGISTRY_API_CLIENT_ID", ""),
        "REGISTRY_API_CLIENT_SECRET": os.environ.get("CRM_REGISTRY_API_CLIENT_SECRET", ""),
        "REGISTRY_API_SCOPE": os.environ.get("CRM_REGISTRY_API_SCOPE", ""),
        # The seller printed on invoices (our own company).
        "SELLER": {
            "name": os.environ.get("CRM_SELLER_NAME", "Kundregister Demo AB"),
            "address": os.environ.get("CRM_SELLER_ADDRESS", "Storgatan 1, 111 22 Stockholm"),
            "org_number": os.environ.get("CRM_SELLER_ORG_NUMBER", "556677-8899"),
            "vat_number": os.environ.get("CRM_SELLER_VAT_NUMBER", "SE556677889901"),
            "bankgiro": os.environ.get("CRM_SELLER_BANKGIRO", "123-4567"),
            "phone": os.environ.get("CRM_SELLER_PHONE", "08-123 456 00"),
            "email": os.environ.get("CRM_SELLER_EMAIL", "faktura@example.se"),
        },
    }
    config.update(overrides or {})
    return config


#: The screens' PostgreSQL connections plan every statement for its own values (app.create_app). psycopg
#: prepares a statement run five times on a connection, and PostgreSQL may then keep one generic plan for
#: it: for the card's latest events of a customer with 4,000 contacts the generic plan probes the audit
#: index once per contact, 9.5 ms at 1,000,000 companies against 0.2 ms planned for the customer at hand
#: (and at 1,000 companies); the benchmarks' figures are of these plans. Not the queue worker's: an
#: import's batches run the same large statements again and again, and planning each cost its write a
#: quarter of its speed (30,000 companies: 4,926 rows/s with PostgreSQL's own choice, 3,648–3,906).
SCREENS_POSTGRESQL_OPTIONS = "-c plan_cache_mode=force_custom_plan"


#: SQLite's page cache per connection, in KiB (SQLite's own default: 2,000). A quick search of a medium term
#: reads a few thousand rows scattered over the table, and its FTS5 index's doclists: "svensson" at 1,000,000
#: companies, 4,635 rows, about 18 MB of pages. With 2 MB each of them came from the operating system again on
#: every request: the list's page of that search, sorted, 9.4 CPU-ms (25 ms wall under load 4); with 32 MiB,
#: 5.3 CPU-ms (64 MiB: 5.3). A connection fills it only as far as it reads; a write by another connection
#: empties it. Set on every new connection (app.py); the import and the large generator set their own while
#: they run and give a connection back to the pool with this one.
SQLITE_PAGE_CACHE_KIB = 32 * 1024
