"""orders and payments: orders with price-snapshot lines, status history, refunds and refunded lines,
payment events stored once per gateway event id, and the record of order emails sent

Revision ID: 856ba342fff3
Revises: c7bd4292c9d1
Create Date: 2026-11-24 19:59:30.930852

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '856ba342fff3'
down_revision = 'c7bd4292c9d1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('orders',
    sa.Column('number', sa.String(length=24), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('refunded_amount', sa.BigInteger(), nullable=False),
    sa.Column('coupon_id', sa.Integer(), nullable=True),
    sa.Column('coupon_code', sa.String(length=32), nullable=True),
    sa.Column('locale', sa.String(length=10), nullable=True),
    sa.Column('gateway', sa.String(length=20), nullable=False),
    sa.Column('payment_session_id', sa.String(length=255), nullable=True),
    sa.Column('payment_url', sa.Text(), nullable=True),
    sa.Column('payment_reference', sa.String(length=255), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('needs_attention', sa.Boolean(), nullable=False),
    sa.Column('attention_note', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('refunded_amount >= 0 AND refunded_amount <= total', name=op.f('ck_orders_refund_within_total')),
    sa.CheckConstraint('subtotal >= 0 AND discount >= 0 AND discount <= subtotal', name=op.f('ck_orders_amounts_valid')),
    sa.CheckConstraint('total = subtotal - discount', name=op.f('ck_orders_total_adds_up')),
    sa.ForeignKeyConstraint(['buyer_id'], ['users.id'], name=op.f('fk_orders_buyer_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_orders_coupon_id_coupons'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('number', name=op.f('uq_orders_number'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_buyer_id'), ['buyer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_coupon_id'), ['coupon_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_needs_attention'), ['needs_attention'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_payment_reference'), ['payment_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_payment_session_id'), ['payment_session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_status'), ['status'], unique=False)

    op.create_table('order_emails',
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_emails_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_emails')),
    sa.UniqueConstraint('order_id', 'key', name=op.f('uq_order_emails_order_id_key'))
    )
    with op.batch_alter_table('order_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_emails_order_id'), ['order_id'], unique=False)

    op.create_table('order_lines',
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=True),
    sa.Column('creator_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('discount >= 0 AND discount <= subtotal AND total = subtotal - discount', name=op.f('ck_order_lines_total_adds_up')),
    sa.CheckConstraint('quantity >= 1 AND quantity <= 99', name=op.f('ck_order_lines_quantity_range')),
    sa.CheckConstraint('unit_price >= 0 AND subtotal = unit_price * quantity', name=op.f('ck_order_lines_subtotal_adds_up')),
    sa.ForeignKeyConstraint(['creator_id'], ['creator_profiles.id'], name=op.f('fk_order_lines_creator_id_creator_profiles'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_order_lines_listing_id_listings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines'))
    )
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_lines_creator_id'), ['creator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_lines_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_lines_order_id'), ['order_id'], unique=False)

    op.create_table('order_status_changes',
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=24), nullable=True),
    sa.Column('to_status', sa.String(length=24), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=40), nullable=True),
    sa.Column('note_params', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_order_status_changes_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_status_changes_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_status_changes'))
    )
    with op.batch_alter_table('order_status_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_status_changes_order_id'), ['order_id'], unique=False)

    op.create_table('payment_events',
    sa.Column('gateway', sa.String(length=20), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payment_events_order_id_orders'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_events')),
    sa.UniqueConstraint('gateway', 'event_id', name=op.f('uq_payment_events_gateway_event_id'))
    )
    with op.batch_alter_table('payment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_events_order_id'), ['order_id'], unique=False)

    op.create_table('refunds',
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('gateway_reference', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_refunds_amount_positive')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_refunds_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_refunds_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds'))
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_order_id'), ['order_id'], unique=False)

    op.create_table('refund_lines',
    sa.Column('refund_id', sa.Integer(), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_refund_lines_order_line_id_order_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'], name=op.f('fk_refund_lines_refund_id_refunds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_lines')),
    sa.UniqueConstraint('order_line_id', name=op.f('uq_refund_lines_order_line_id'))
    )
    with op.batch_alter_table('refund_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refund_lines_refund_id'), ['refund_id'], unique=False)



def downgrade():
    with op.batch_alter_table('refund_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refund_lines_refund_id'))

    op.drop_table('refund_lines')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_order_id'))

    op.drop_table('refunds')
    with op.batch_alter_table('payment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_events_order_id'))

    op.drop_table('payment_events')
    with op.batch_alter_table('order_status_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_status_changes_order_id'))

    op.drop_table('order_status_changes')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_lines_order_id'))
        batch_op.drop_index(batch_op.f('ix_order_lines_listing_id'))
        batch_op.drop_index(batch_op.f('ix_order_lines_creator_id'))

    op.drop_table('order_lines')
    with op.batch_alter_table('order_emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_emails_order_id'))

    op.drop_table('order_emails')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_status'))
        batch_op.drop_index(batch_op.f('ix_orders_payment_session_id'))
        batch_op.drop_index(batch_op.f('ix_orders_payment_reference'))
        batch_op.drop_index(batch_op.f('ix_orders_needs_attention'))
        batch_op.drop_index(batch_op.f('ix_orders_expires_at'))
        batch_op.drop_index(batch_op.f('ix_orders_coupon_id'))
        batch_op.drop_index(batch_op.f('ix_orders_buyer_id'))

    op.drop_table('orders')
