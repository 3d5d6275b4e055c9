"""company register (Företagsuppslag): registry_company and registry_load, company.legal_form

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 09:00:00

The indexes are those services.registry_loader builds on each load, copied here as they are today:
on PostgreSQL a bytewise (COLLATE "C") index of the folded name for prefixes and a pg_trgm GIN
index for substrings; on SQLite an index of the folded name and an FTS5 trigram table of it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("company") as batch:
        batch.add_column(sa.Column("legal_form", sa.String(length=60), nullable=True))
    op.create_table(
        "registry_load",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("data_date", sa.Date(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("active_count", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_load")),
    )
    op.create_table(
        "registry_company",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("org_number", sa.String(length=12), nullable=False),
        sa.Column("search_name", sa.String(length=250), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("legal_form", sa.String(length=10), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.Column("deregistered_on", sa.Date(), nullable=True),
        sa.Column("deregistration_reason", sa.String(length=100), nullable=True),
        sa.Column("business_description", sa.Text(), nullable=True),
        sa.Column("postal_co", sa.String(length=200), nullable=True),
        sa.Column("postal_street", sa.String(length=200), nullable=True),
        sa.Column("postal_postcode", sa.String(length=10), nullable=True),
        sa.Column("postal_city", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_company")),
    )
    op.create_index("ix_registry_company_org_number", "registry_company", ["org_number"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute('CREATE INDEX ix_registry_company_search_name ON registry_company ((search_name COLLATE "C"))')
        op.execute(
            "CREATE INDEX ix_registry_company_search_name_trgm ON registry_company USING gin (search_name gin_trgm_ops)"
        )
    else:
        op.execute("CREATE INDEX ix_registry_company_search_name ON registry_company (search_name)")
        op.execute(
            "CREATE VIRTUAL TABLE registry_company_search USING fts5(words, content='', columnsize=0, "
            "tokenize='trigram case_sensitive 0')"
        )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS registry_company_search")
    op.execute("DROP TABLE IF EXISTS registry_company_next")
    op.drop_table("registry_company")
    op.drop_table("registry_load")
    with op.batch_alter_table("company") as batch:
        batch.drop_column("legal_form")
