"""打印工单: a ticket as a printable page (the fields, the reply and the
history, Beijing time), server-rendered so it prints as it is; the reader
sees what the ticket page shows them (a department: the masked phone, a
confidential caller hidden)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, render_template
from sqlalchemy import select

from dispatch.access import visible_clause
from dispatch.errors import NotFound
from dispatch.ticket_json import event_json, ticket_json
from dispatch.workflow import RECORD_ONLY, TRANSITIONS
from hotline.auth import current_actor, page_auth
from hotline.current import db
from models import Ticket, TicketEvent

bp = Blueprint("print_view", __name__)
BEIJING = dt.timezone(dt.timedelta(hours=8))


def beijing(iso: str | None) -> str:
    if not iso:
        return "—"
    return dt.datetime.fromisoformat(iso).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


@bp.get("/tickets/<int:ticket_id>/print")
@page_auth("tickets.read")
def print_ticket(ticket_id: int):
    actor = current_actor()
    with db().session() as s:
        t = s.scalar(select(Ticket).where(Ticket.id == ticket_id, visible_clause(actor, assisting=True)))
        if t is None:
            raise NotFound("工单不存在或无权查看")
        ticket = ticket_json(t, actor)
        events = [event_json(e, actor) for e in s.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.at, TicketEvent.id))]
    labels = {k: tr.label for k, tr in TRANSITIONS.items()} | RECORD_ONLY
    return render_template("print.html", t=ticket, events=events, labels=labels, beijing=beijing,
                           printed_at=beijing(dt.datetime.now(dt.timezone.utc).isoformat()))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
