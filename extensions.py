"""Flask extensions, created unbound and initialised in create_app()."""

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:  # db.Model is made at run time; type checkers see the declarative base it extends
    Model = Base
else:
    Model = db.Model

#: SQLite's page cache per connection, in KiB (SQLite's own default: 2,000). A quick search of a medium term
#: reads a few thousand rows scattered over the table, and its FTS5 index's doclists: "svensson" at 1,000,000
#: companies, 4,635 rows, about 18 MB of pages. With 2 MB each of them came from the operating system again on
#: every request: the list's page of that search, sorted, 9.4 CPU-ms (25 ms wall under load 4); with 32 MiB,
#: 5.3 CPU-ms (64 MiB: 5.3). A connection fills it only as far as it reads; a write by another connection
#: empties it. Set on every new connection (app.py); the import and the large generator set their own while
#: they run and give a connection back to the pool with this one.
SQLITE_PAGE_CACHE_KIB = 32 * 1024

login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
