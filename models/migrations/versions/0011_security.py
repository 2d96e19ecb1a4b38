"""security: server-side sessions, token expiry, login facts, audit address
and result, append-only ticket_events and audit_events on PostgreSQL

Revision ID: 0011_security
Revises: 0010_model_kind
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0011_security'
down_revision = '0010_model_kind'
branch_labels = None
depends_on = None

APPEND_ONLY = ("ticket_events", "audit_events")


def upgrade() -> None:
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sid_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=32), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('sid_hash', name=op.f('uq_user_sessions_sid_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('password_changed_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_login_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_login_address', sa.String(length=64), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('result', sa.String(length=16), nullable=False, server_default='success'))
        batch_op.create_index('ix_audit_events_action_object_at', ['action', 'object_id', 'at'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # Append-only: history is never rewritten, by the app or by hand.
        # Append-only: committed history is never rewritten, by the app or
        # by hand.  A transaction may still complete the rows it inserted
        # itself before it commits (hooks add to an event's payload in the
        # transaction that wrote it): an UPDATE passes only when the row's
        # inserting transaction (xmin, sub-transactions included) is still
        # in progress, i.e. is this one.
        op.execute("""
            CREATE FUNCTION hotline_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
              cur bigint;
              ins bigint;
            BEGIN
              IF TG_OP = 'UPDATE' THEN
                BEGIN
                  cur := pg_current_xact_id()::text::bigint;
                  ins := ((cur >> 32) << 32) | OLD.xmin::text::bigint;
                  IF ins > cur THEN ins := ins - 4294967296; END IF;
                  IF ins >= 0 AND pg_xact_status(ins::text::xid8) = 'in progress' THEN
                    RETURN NEW;
                  END IF;
                EXCEPTION WHEN others THEN
                  NULL;  -- too old to know: certainly committed long ago
                END;
              END IF;
              RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
            END $$""")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION hotline_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION hotline_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS hotline_append_only()")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_action_object_at')
        batch_op.drop_column('result')
        batch_op.drop_column('address')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_login_address')
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('must_change_password')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
    op.drop_table('user_sessions')
