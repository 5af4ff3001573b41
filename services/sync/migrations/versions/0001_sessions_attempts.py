"""sessions, attempts and session_answers.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("offline_session_id", sa.Uuid()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("year_id", sa.BigInteger()),
        sa.Column("block_id", sa.BigInteger()),
        sa.Column("theme_id", sa.BigInteger()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "session_id", name="pk_sessions"),
        sa.UniqueConstraint("user_id", "offline_session_id", name="uq_sessions_offline"),
    )
    op.create_table(
        "attempts",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(36), nullable=False),
        sa.Column("server_attempt_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("client_attempt_id", sa.String(36), nullable=False),
        sa.Column("question_id", sa.String(36), nullable=False),
        sa.Column("selected_option_index", sa.Integer(), nullable=False),
        sa.Column("answered_at_text", sa.String(64), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("package_id", sa.String(36)),
        sa.Column("is_correct", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "idempotency_key", name="pk_attempts"),
    )
    op.create_table(
        "session_answers",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("question_id", sa.String(36), nullable=False),
        sa.Column("server_attempt_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(36), nullable=False),
        sa.Column("selected_option_index", sa.Integer(), nullable=False),
        sa.Column("is_correct", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at_text", sa.String(64), nullable=False),
        sa.Column("first_answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "session_id", "question_id", name="pk_session_answers"),
    )


def downgrade() -> None:
    op.drop_table("session_answers")
    op.drop_table("attempts")
    op.drop_table("sessions")
