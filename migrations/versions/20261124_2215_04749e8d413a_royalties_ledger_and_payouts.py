"""royalties: versioned split rules with their parties, per-listing platform fees, the double-entry ledger
(accounts, transactions, immutable entries: a PostgreSQL trigger refuses updates and deletes), payout accounts
and payouts

Revision ID: 04749e8d413a
Revises: 70d558fbf3ba
Create Date: 2026-11-24 22:15:04.867864

"""
from alembic import op
import sqlalchemy as sa

# written out here, not imported from the models: a landed migration must not change when the models do
IMMUTABLE_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
        MESSAGE = 'ledger rows are immutable: ' || TG_OP || ' on ' || TG_TABLE_NAME || ' refused';
END;
$$ LANGUAGE plpgsql
"""
IMMUTABLE_TRIGGER = (
    "CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION ledger_immutable()"
)
IMMUTABLE_TABLES = ("ledger_transactions", "ledger_entries")


# revision identifiers, used by Alembic.
revision = '04749e8d413a'
down_revision = '70d558fbf3ba'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ledger_accounts',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('brand_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_ledger_accounts_brand_id_brands'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ledger_accounts_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('key', name=op.f('uq_ledger_accounts_key'))
    )
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_accounts_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_accounts_user_id'), ['user_id'], unique=False)

    op.create_table('payout_accounts',
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('brand_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('connected_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('(user_id IS NULL) <> (brand_id IS NULL)', name=op.f('ck_payout_accounts_one_owner')),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_payout_accounts_brand_id_brands'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['connected_by_id'], ['users.id'], name=op.f('fk_payout_accounts_connected_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_payout_accounts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_accounts')),
    sa.UniqueConstraint('brand_id', name=op.f('uq_payout_accounts_brand_id')),
    sa.UniqueConstraint('user_id', name=op.f('uq_payout_accounts_user_id'))
    )
    op.create_table('payouts',
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('brand_id', sa.Integer(), nullable=True),
    sa.Column('ledger_account_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('destination', sa.String(length=255), nullable=False),
    sa.Column('provider_reference', sa.String(length=255), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('(user_id IS NULL) <> (brand_id IS NULL)', name=op.f('ck_payouts_one_owner')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payouts_amount_positive')),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_payouts_brand_id_brands'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['ledger_account_id'], ['ledger_accounts.id'], name=op.f('fk_payouts_ledger_account_id_ledger_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_payouts_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_payouts_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payouts'))
    )
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payouts_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_ledger_account_id'), ['ledger_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_user_id'), ['user_id'], unique=False)

    op.create_table('royalty_listing_fees',
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('bp', sa.Integer(), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('bp >= 0 AND bp <= 10000', name=op.f('ck_royalty_listing_fees_bp_range')),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_royalty_listing_fees_listing_id_listings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], name=op.f('fk_royalty_listing_fees_set_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('listing_id', name=op.f('pk_royalty_listing_fees'))
    )
    op.create_table('royalty_splits',
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('platform_fee_bp', sa.Integer(), nullable=False),
    sa.Column('gateway_fee_bearer', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('platform_fee_bp >= 0 AND platform_fee_bp <= 10000', name=op.f('ck_royalty_splits_fee_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_royalty_splits_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_royalty_splits_listing_id_listings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_royalty_splits')),
    sa.UniqueConstraint('listing_id', 'version', name=op.f('uq_royalty_splits_listing_id_version'))
    )
    with op.batch_alter_table('royalty_splits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_royalty_splits_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_royalty_splits_status'), ['status'], unique=False)

    op.create_table('royalty_split_parties',
    sa.Column('split_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('brand_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('bp', sa.Integer(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('(user_id IS NULL) <> (brand_id IS NULL)', name=op.f('ck_royalty_split_parties_one_party')),
    sa.CheckConstraint('bp >= 0 AND bp <= 10000', name=op.f('ck_royalty_split_parties_bp_range')),
    sa.ForeignKeyConstraint(['accepted_by_id'], ['users.id'], name=op.f('fk_royalty_split_parties_accepted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_royalty_split_parties_brand_id_brands'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['split_id'], ['royalty_splits.id'], name=op.f('fk_royalty_split_parties_split_id_royalty_splits'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_royalty_split_parties_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_royalty_split_parties')),
    sa.UniqueConstraint('split_id', 'brand_id', name=op.f('uq_royalty_split_parties_split_id_brand_id')),
    sa.UniqueConstraint('split_id', 'user_id', name=op.f('uq_royalty_split_parties_split_id_user_id'))
    )
    with op.batch_alter_table('royalty_split_parties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_royalty_split_parties_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_royalty_split_parties_split_id'), ['split_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_royalty_split_parties_user_id'), ['user_id'], unique=False)

    op.create_table('ledger_transactions',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('refund_id', sa.Integer(), nullable=True),
    sa.Column('payout_id', sa.Integer(), nullable=True),
    sa.Column('memo', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ledger_transactions_order_id_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payout_id'], ['payouts.id'], name=op.f('fk_ledger_transactions_payout_id_payouts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'], name=op.f('fk_ledger_transactions_refund_id_refunds'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transactions')),
    sa.UniqueConstraint('key', name=op.f('uq_ledger_transactions_key'))
    )
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_transactions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transactions_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transactions_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transactions_payout_id'), ['payout_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transactions_refund_id'), ['refund_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=True),
    sa.Column('listing_id', sa.Integer(), nullable=True),
    sa.Column('gross', sa.BigInteger(), nullable=True),
    sa.Column('bp', sa.Integer(), nullable=True),
    sa.Column('split_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_ledger_entries_amount_nonzero')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_entries_account_id_ledger_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_ledger_entries_listing_id_listings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_ledger_entries_order_line_id_order_lines'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['split_id'], ['royalty_splits.id'], name=op.f('fk_ledger_entries_split_id_royalty_splits'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'], name=op.f('fk_ledger_entries_transaction_id_ledger_transactions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_account_time', ['account_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_order_line_id'), ['order_line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_transaction_id'), ['transaction_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(IMMUTABLE_FUNCTION)
        for table in IMMUTABLE_TABLES:
            op.execute(IMMUTABLE_TRIGGER.format(table=table))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_immutable()")
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_transaction_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_order_line_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_listing_id'))
        batch_op.drop_index('ix_ledger_entries_account_time')

    op.drop_table('ledger_entries')
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_refund_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_payout_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_order_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_kind'))
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_created_at'))

    op.drop_table('ledger_transactions')
    with op.batch_alter_table('royalty_split_parties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_royalty_split_parties_user_id'))
        batch_op.drop_index(batch_op.f('ix_royalty_split_parties_split_id'))
        batch_op.drop_index(batch_op.f('ix_royalty_split_parties_brand_id'))

    op.drop_table('royalty_split_parties')
    with op.batch_alter_table('royalty_splits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_royalty_splits_status'))
        batch_op.drop_index(batch_op.f('ix_royalty_splits_listing_id'))

    op.drop_table('royalty_splits')
    op.drop_table('royalty_listing_fees')
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payouts_user_id'))
        batch_op.drop_index(batch_op.f('ix_payouts_status'))
        batch_op.drop_index(batch_op.f('ix_payouts_ledger_account_id'))
        batch_op.drop_index(batch_op.f('ix_payouts_created_at'))
        batch_op.drop_index(batch_op.f('ix_payouts_brand_id'))

    op.drop_table('payouts')
    op.drop_table('payout_accounts')
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_accounts_user_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_accounts_brand_id'))

    op.drop_table('ledger_accounts')
