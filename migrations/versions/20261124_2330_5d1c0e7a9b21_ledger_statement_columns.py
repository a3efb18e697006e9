"""Ledger entries carry their order, order number and payout, and one covering index serves statements

A party's statement read its entries and joined transactions, order lines and orders for every line (a whole
year of a busy party: 100,000 lines, most of the time in those joins). The entries now carry what a statement
line shows, copied from the transaction when posted; existing entries are filled in here (the immutability
trigger is paused for that one UPDATE, which changes no amount). On PostgreSQL the new index carries every
column a statement line needs, so statements are index-only scans.

Revision ID: 5d1c0e7a9b21
Revises: 04749e8d413a
Create Date: 2026-11-24 23:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '5d1c0e7a9b21'
down_revision = '04749e8d413a'
branch_labels = None
depends_on = None

STATEMENT_COLUMNS = ['kind', 'amount', 'gross', 'bp', 'listing_id', 'order_id', 'order_number', 'payout_id']


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('order_number', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('payout_id', sa.Integer(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_account_time'))

    on_postgres = op.get_bind().dialect.name == 'postgresql'
    if on_postgres:
        op.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_immutable")
        op.execute(
            "UPDATE ledger_entries AS e SET order_id = t.order_id, payout_id = t.payout_id, order_number = o.number "
            "FROM ledger_transactions AS t LEFT JOIN orders AS o ON o.id = t.order_id "
            "WHERE t.id = e.transaction_id AND (t.order_id IS NOT NULL OR t.payout_id IS NOT NULL)"
        )
        op.execute("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_immutable")
    else:
        op.execute(
            "UPDATE ledger_entries SET "
            "order_id = (SELECT t.order_id FROM ledger_transactions t WHERE t.id = ledger_entries.transaction_id), "
            "payout_id = (SELECT t.payout_id FROM ledger_transactions t WHERE t.id = ledger_entries.transaction_id), "
            "order_number = (SELECT o.number FROM ledger_transactions t JOIN orders o ON o.id = t.order_id "
            "                WHERE t.id = ledger_entries.transaction_id)"
        )

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_statement', ['account_id', 'created_at', 'id'], unique=False,
                              postgresql_include=STATEMENT_COLUMNS)


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_statement', postgresql_include=STATEMENT_COLUMNS)
        batch_op.create_index(batch_op.f('ix_ledger_entries_account_time'), ['account_id', 'created_at', 'id'], unique=False)
        batch_op.drop_column('payout_id')
        batch_op.drop_column('order_number')
        batch_op.drop_column('order_id')
