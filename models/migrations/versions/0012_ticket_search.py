"""ticket search: words, phone tail, caller name

- ``tickets.search_text``: jieba's words of subject, description and
  address (dispatch.search fills it on every write); PostgreSQL indexes it
  as a tsvector of those words as they are (``array_to_tsvector``: no
  parser, so the server's locale cannot drop CJK words) in the GIN index
  ``ix_tickets_search``; SQLite keeps the FTS5 table ``ticket_search``
  (external content: the tickets table) in step by triggers.
- ``tickets.phone_tail``: the phone's last four digits (search by 尾号).
- ``ix_tickets_caller_name``: search by the caller's name.

Existing tickets get their words and tails here.

Revision ID: 0012_ticket_search
Revises: 0011_security
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_ticket_search'
down_revision = '0011_security'
branch_labels = None
depends_on = None

# The expression the GIN index is built on; dispatch.search.words_clause
# must query the very same expression for the index to be used.
VECTOR = "array_to_tsvector(string_to_array(search_text, ' '))"
FTS_TRIGGERS = {
    "ticket_search_ai": "AFTER INSERT ON tickets BEGIN "
                        "INSERT INTO ticket_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "ticket_search_ad": "AFTER DELETE ON tickets BEGIN "
                        "INSERT INTO ticket_search(ticket_search, rowid, search_text) "
                        "VALUES ('delete', old.id, old.search_text); END",
    "ticket_search_au": "AFTER UPDATE OF search_text ON tickets BEGIN "
                        "INSERT INTO ticket_search(ticket_search, rowid, search_text) "
                        "VALUES ('delete', old.id, old.search_text); "
                        "INSERT INTO ticket_search(rowid, search_text) VALUES (new.id, new.search_text); END",
}


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_tail', sa.String(length=4), server_default='', nullable=False))
        batch_op.add_column(sa.Column('search_text', sa.Text(), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_tickets_phone_tail'), ['phone_tail'], unique=False)
        batch_op.create_index('ix_tickets_caller_name', ['caller_name'], unique=False)
    _backfill()
    if pg:
        op.execute(f"CREATE INDEX ix_tickets_search ON tickets USING gin ({VECTOR})")
    else:
        op.execute("CREATE VIRTUAL TABLE ticket_search USING fts5(search_text, content='tickets', content_rowid='id')")
        for name, body in FTS_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        op.execute("INSERT INTO ticket_search(ticket_search) VALUES ('rebuild')")


def _backfill() -> None:
    from dispatch.search import index_words, phone_tail

    conn = op.get_bind()
    t = sa.table("tickets", sa.column("id"), sa.column("subject"), sa.column("description"),
                 sa.column("address"), sa.column("caller_phone"), sa.column("search_text"), sa.column("phone_tail"))
    last = 0
    while True:
        rows = conn.execute(sa.select(t.c.id, t.c.subject, t.c.description, t.c.address, t.c.caller_phone)
                            .where(t.c.id > last).order_by(t.c.id).limit(1000)).all()
        if not rows:
            return
        for r in rows:
            conn.execute(t.update().where(t.c.id == r.id).values(
                search_text=index_words(r.subject, r.description, r.address), phone_tail=phone_tail(r.caller_phone or "")))
        last = rows[-1].id


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_tickets_search")
    else:
        for name in FTS_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE ticket_search")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_caller_name')
        batch_op.drop_index(batch_op.f('ix_tickets_phone_tail'))
        batch_op.drop_column('search_text')
        batch_op.drop_column('phone_tail')
