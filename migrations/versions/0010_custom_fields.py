"""Egna fält: custom tabs, field definitions and typed values; drop company.custom_fields

The unused JSON column company.custom_fields gives way to custom_field_value
(typed columns the Rapportgenerator filters and sorts on).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 19:15:22

"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "custom_tab",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("applies_to", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_tab")),
        sa.UniqueConstraint("applies_to", "name", name="uq_custom_tab_applies_to_name"),
    )
    op.create_table(
        "custom_field_definition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tab_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("field_type", sa.String(length=10), nullable=False),
        sa.Column("choices", sa.Text(), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tab_id"], ["custom_tab.id"], name=op.f("fk_custom_field_definition_tab_id_custom_tab")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field_definition")),
        sa.UniqueConstraint("tab_id", "label", name="uq_custom_field_definition_tab_label"),
    )
    with op.batch_alter_table("custom_field_definition", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custom_field_definition_tab_id"), ["tab_id"], unique=False)

    op.create_table(
        "custom_field_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("value_number", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("value_bool", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["company.id"], name=op.f("fk_custom_field_value_company_id_company"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_custom_field_value_contact_id_contact"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["custom_field_definition.id"],
            name=op.f("fk_custom_field_value_field_id_custom_field_definition"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field_value")),
        sa.UniqueConstraint("field_id", "company_id", name="uq_custom_field_value_field_company"),
        sa.UniqueConstraint("field_id", "contact_id", name="uq_custom_field_value_field_contact"),
        sa.CheckConstraint(
            "(company_id IS NULL) <> (contact_id IS NULL)", name=op.f("ck_custom_field_value_one_customer")
        ),
    )
    with op.batch_alter_table("custom_field_value", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custom_field_value_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_custom_field_value_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_custom_field_value_field_id"), ["field_id"], unique=False)

    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("custom_fields")


def downgrade():
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.add_column(sa.Column("custom_fields", sa.JSON(), nullable=True))

    with op.batch_alter_table("custom_field_value", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custom_field_value_field_id"))
        batch_op.drop_index(batch_op.f("ix_custom_field_value_contact_id"))
        batch_op.drop_index(batch_op.f("ix_custom_field_value_company_id"))

    op.drop_table("custom_field_value")
    with op.batch_alter_table("custom_field_definition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custom_field_definition_tab_id"))

    op.drop_table("custom_field_definition")
    op.drop_table("custom_tab")
