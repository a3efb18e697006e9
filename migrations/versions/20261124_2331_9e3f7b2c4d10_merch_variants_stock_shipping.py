"""Merch: variants with stock that never goes below zero, stock reservations, shipping profiles and rates,
shipping on orders and lines, shipments, and who fulfils a co-branded listing

Revision ID: 9e3f7b2c4d10
Revises: 5d1c0e7a9b21
Create Date: 2026-11-24 23:31:00

"""
from alembic import op
import sqlalchemy as sa


revision = '9e3f7b2c4d10'
down_revision = '5d1c0e7a9b21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('shipping_profiles',
    sa.Column('creator_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['creator_profiles.id'], name=op.f('fk_shipping_profiles_creator_id_creator_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_profiles'))
    )
    with op.batch_alter_table('shipping_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipping_profiles_creator_id'), ['creator_id'], unique=False)

    op.create_table('shipping_rates',
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('countries', sa.JSON(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('free_above', sa.BigInteger(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_shipping_rates_amount_not_negative')),
    sa.CheckConstraint('free_above IS NULL OR free_above >= 0', name=op.f('ck_shipping_rates_free_above_not_negative')),
    sa.ForeignKeyConstraint(['profile_id'], ['shipping_profiles.id'], name=op.f('fk_shipping_rates_profile_id_shipping_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_rates'))
    )
    with op.batch_alter_table('shipping_rates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipping_rates_profile_id'), ['profile_id'], unique=False)

    op.create_table('merch_variants',
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('weight_grams', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('stock IS NULL OR stock >= 0', name=op.f('ck_merch_variants_stock_not_negative')),
    sa.CheckConstraint('weight_grams IS NULL OR weight_grams >= 0', name=op.f('ck_merch_variants_weight_not_negative')),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_merch_variants_listing_id_listings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merch_variants')),
    sa.UniqueConstraint('listing_id', 'sku', name='uq_merch_variants_listing_sku')
    )
    with op.batch_alter_table('merch_variants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_merch_variants_listing_id'), ['listing_id'], unique=False)

    op.create_table('merch_reservations',
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('allocated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_merch_reservations_quantity_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_merch_reservations_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_merch_reservations_order_line_id_order_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['merch_variants.id'], name=op.f('fk_merch_reservations_variant_id_merch_variants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merch_reservations')),
    sa.UniqueConstraint('order_line_id', name=op.f('uq_merch_reservations_order_line_id'))
    )
    with op.batch_alter_table('merch_reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_merch_reservations_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_merch_reservations_status_expires', ['status', 'expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_merch_reservations_variant_id'), ['variant_id'], unique=False)

    op.create_table('merch_variant_prices',
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_merch_variant_prices_amount_not_negative')),
    sa.ForeignKeyConstraint(['variant_id'], ['merch_variants.id'], name=op.f('fk_merch_variant_prices_variant_id_merch_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('variant_id', 'currency', name=op.f('pk_merch_variant_prices'))
    )
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipping_profile_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_listings_shipping_profile_id_shipping_profiles'), 'shipping_profiles', ['shipping_profile_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipping', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('carrier', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('tracking_number', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('shipped_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_order_lines_shipped_by_id_users'), 'users', ['shipped_by_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipping_total', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('shipping_address', sa.JSON(), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_orders_total_adds_up'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_orders_total_with_shipping_adds_up'),
                                         'total = subtotal - discount + shipping_total')
        batch_op.create_check_constraint(batch_op.f('ck_orders_shipping_not_negative'), 'shipping_total >= 0')

    with op.batch_alter_table('royalty_splits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fulfilled_by', sa.String(length=20), server_default='creator', nullable=False))


def downgrade():
    with op.batch_alter_table('royalty_splits', schema=None) as batch_op:
        batch_op.drop_column('fulfilled_by')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_orders_shipping_not_negative'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_orders_total_with_shipping_adds_up'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_orders_total_adds_up'), 'total = subtotal - discount')
        batch_op.drop_column('shipping_address')
        batch_op.drop_column('shipping_total')

    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_order_lines_shipped_by_id_users'), type_='foreignkey')
        batch_op.drop_column('shipped_by_id')
        batch_op.drop_column('tracking_number')
        batch_op.drop_column('carrier')
        batch_op.drop_column('shipped_at')
        batch_op.drop_column('shipping')

    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_listings_shipping_profile_id_shipping_profiles'), type_='foreignkey')
        batch_op.drop_column('shipping_profile_id')

    op.drop_table('merch_variant_prices')
    with op.batch_alter_table('merch_reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_merch_reservations_variant_id'))
        batch_op.drop_index('ix_merch_reservations_status_expires')
        batch_op.drop_index(batch_op.f('ix_merch_reservations_order_id'))

    op.drop_table('merch_reservations')
    with op.batch_alter_table('merch_variants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_merch_variants_listing_id'))

    op.drop_table('merch_variants')
    with op.batch_alter_table('shipping_rates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipping_rates_profile_id'))

    op.drop_table('shipping_rates')
    with op.batch_alter_table('shipping_profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipping_profiles_creator_id'))

    op.drop_table('shipping_profiles')
