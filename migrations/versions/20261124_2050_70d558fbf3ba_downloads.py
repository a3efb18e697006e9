"""downloads: files sellers attach to listings, entitlements granted by paid order lines, downloads used per
entitlement and file, and the log of every download attempt

Revision ID: 70d558fbf3ba
Revises: 856ba342fff3
Create Date: 2026-11-24 20:50:28.879271

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '70d558fbf3ba'
down_revision = '856ba342fff3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('download_logs',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('entitlement_id', sa.Integer(), nullable=True),
    sa.Column('listing_id', sa.Integer(), nullable=True),
    sa.Column('file_ref', sa.String(length=60), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('byte_range', sa.String(length=100), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_download_logs'))
    )
    with op.batch_alter_table('download_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_download_logs_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_download_logs_listing_outcome', ['listing_id', 'outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_download_logs_user_id'), ['user_id'], unique=False)

    op.create_table('listing_files',
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('size >= 0', name=op.f('ck_listing_files_size_not_negative')),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_listing_files_listing_id_listings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_files')),
    sa.UniqueConstraint('key', name=op.f('uq_listing_files_key'))
    )
    with op.batch_alter_table('listing_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_files_listing_id'), ['listing_id'], unique=False)

    op.create_table('entitlements',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=True),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('downloads_per_file', sa.Integer(), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('downloads_per_file >= 1', name=op.f('ck_entitlements_downloads_per_file_positive')),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_entitlements_listing_id_listings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_entitlements_order_line_id_order_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_entitlements_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entitlements')),
    sa.UniqueConstraint('order_line_id', name=op.f('uq_entitlements_order_line_id'))
    )
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entitlements_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entitlements_user_id'), ['user_id'], unique=False)

    op.create_table('download_counts',
    sa.Column('entitlement_id', sa.Integer(), nullable=False),
    sa.Column('file_ref', sa.String(length=60), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.CheckConstraint('used >= 0', name=op.f('ck_download_counts_used_not_negative')),
    sa.ForeignKeyConstraint(['entitlement_id'], ['entitlements.id'], name=op.f('fk_download_counts_entitlement_id_entitlements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entitlement_id', 'file_ref', name=op.f('pk_download_counts'))
    )


def downgrade():
    op.drop_table('download_counts')
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlements_user_id'))
        batch_op.drop_index(batch_op.f('ix_entitlements_listing_id'))

    op.drop_table('entitlements')
    with op.batch_alter_table('listing_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listing_files_listing_id'))

    op.drop_table('listing_files')
    with op.batch_alter_table('download_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_download_logs_user_id'))
        batch_op.drop_index('ix_download_logs_listing_outcome')
        batch_op.drop_index(batch_op.f('ix_download_logs_created_at'))

    op.drop_table('download_logs')
