"""The privacy log by its subject: every save of a contact or lead asks whether it was erased

`services.privacy.erased_ids` runs at the flush of any write to a contact or lead (an erased person's
record is read-only) and looks the records up among the erasures by (subject_type, subject_id); without
an index each save read the whole log, which grows by one row per person erased (retention rules erase
hundreds a night).

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-06 10:05:00

"""

from alembic import op

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_privacy_event_subject", "privacy_event", ["subject_type", "subject_id"])


def downgrade() -> None:
    op.drop_index("ix_privacy_event_subject", table_name="privacy_event")
