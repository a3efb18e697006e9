"""cart: a signed-in fan's cart (one per user) and its lines (listing, reserved variant id, quantity 1..99)

Revision ID: 024b91c9d78b
Revises: d9f63a975146
Create Date: 2026-11-24 19:13:14.328972

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '024b91c9d78b'
down_revision = 'd9f63a975146'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('carts',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_carts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carts')),
    sa.UniqueConstraint('user_id', name=op.f('uq_carts_user_id'))
    )
    op.create_table('cart_lines',
    sa.Column('cart_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity >= 1 AND quantity <= 99', name=op.f('ck_cart_lines_quantity_range')),
    sa.ForeignKeyConstraint(['cart_id'], ['carts.id'], name=op.f('fk_cart_lines_cart_id_carts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_cart_lines_listing_id_listings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cart_lines')),
    sa.UniqueConstraint('cart_id', 'listing_id', 'variant_id', name=op.f('uq_cart_lines_cart_id_listing_id_variant_id'))
    )
    with op.batch_alter_table('cart_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cart_lines_cart_id'), ['cart_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cart_lines_listing_id'), ['listing_id'], unique=False)


def downgrade():
    with op.batch_alter_table('cart_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cart_lines_listing_id'))
        batch_op.drop_index(batch_op.f('ix_cart_lines_cart_id'))

    op.drop_table('cart_lines')
    op.drop_table('carts')
