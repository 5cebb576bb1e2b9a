"""API key scope, expiry and rate windows; server-side admin sessions; shared sign-in throttle

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-29 03:00:00
"""
from alembic import op
import sqlalchemy as sa
import app.types

revision = '0006'
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.String(length=10), server_default='write', nullable=False))
        batch_op.add_column(sa.Column('expires_at', app.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', app.types.UTCDateTime(timezone=True), nullable=True))

    op.create_table('admin_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_admin_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_admin_sessions'))
    )
    with op.batch_alter_table('admin_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('login_attempts',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_attempts'))
    )
    op.create_table('api_rate_windows',
    sa.Column('api_key_id', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_api_rate_windows_api_key_id_api_keys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('api_key_id', 'window_start', name=op.f('pk_api_rate_windows'))
    )


def downgrade() -> None:
    op.drop_table('api_rate_windows')
    op.drop_table('login_attempts')
    with op.batch_alter_table('admin_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_sessions_user_id'))
    op.drop_table('admin_sessions')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('scope')
