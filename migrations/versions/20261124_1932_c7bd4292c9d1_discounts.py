"""discounts: streamers' coupons (percent or fixed amount, validity window, use limits, minimum order)
and coupon_listings, the optional restriction of a coupon to some of its creator's listings

Revision ID: c7bd4292c9d1
Revises: 024b91c9d78b
Create Date: 2026-11-24 19:32:22.016904

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7bd4292c9d1'
down_revision = '024b91c9d78b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('coupons',
    sa.Column('creator_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('percent_bp', sa.Integer(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('max_uses_total', sa.Integer(), nullable=True),
    sa.Column('max_uses_per_buyer', sa.Integer(), nullable=True),
    sa.Column('min_order_amount', sa.BigInteger(), nullable=True),
    sa.Column('min_order_currency', sa.String(length=3), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint("(kind = 'percent' AND percent_bp >= 1 AND percent_bp <= 10000 AND amount IS NULL AND currency IS NULL) OR (kind = 'fixed' AND percent_bp IS NULL AND amount > 0 AND currency IS NOT NULL)", name=op.f('ck_coupons_value_shape')),
    sa.CheckConstraint("kind IN ('percent', 'fixed')", name=op.f('ck_coupons_kind_known')),
    sa.CheckConstraint('(min_order_amount IS NULL AND min_order_currency IS NULL) OR (min_order_amount > 0 AND min_order_currency IS NOT NULL)', name=op.f('ck_coupons_min_order_shape')),
    sa.CheckConstraint('max_uses_per_buyer IS NULL OR max_uses_per_buyer >= 1', name=op.f('ck_coupons_max_uses_per_buyer_positive')),
    sa.CheckConstraint('max_uses_total IS NULL OR max_uses_total >= 1', name=op.f('ck_coupons_max_uses_total_positive')),
    sa.CheckConstraint('valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from', name=op.f('ck_coupons_window_order')),
    sa.ForeignKeyConstraint(['creator_id'], ['creator_profiles.id'], name=op.f('fk_coupons_creator_id_creator_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons')),
    sa.UniqueConstraint('creator_id', 'code', name=op.f('uq_coupons_creator_id_code'))
    )
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coupons_creator_id'), ['creator_id'], unique=False)

    op.create_table('coupon_listings',
    sa.Column('coupon_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_coupon_listings_coupon_id_coupons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_coupon_listings_listing_id_listings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('coupon_id', 'listing_id', name=op.f('pk_coupon_listings'))
    )
    with op.batch_alter_table('coupon_listings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coupon_listings_listing_id'), ['listing_id'], unique=False)



def downgrade():
    with op.batch_alter_table('coupon_listings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coupon_listings_listing_id'))

    op.drop_table('coupon_listings')
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coupons_creator_id'))

    op.drop_table('coupons')
