"""Jobs enqueued by tests and run by a real rq worker process."""
from dispatch import events, rooms


def publish_probe(number: str) -> None:
    from sqlalchemy import select

    from runtime.jobs import database
    from models import Unit

    with database().session() as s:
        unit = s.scalar(select(Unit).where(Unit.code == "gy_rsj"))
        events.publish("ticket.changed", {"ticket": {"number": number, "id": 0, "status": "probe"},
                                          "event": {"action": "probe"}}, [rooms.unit(unit.id)])
