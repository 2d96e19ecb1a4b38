"""SQLAlchemy 2.0 typed models and the database session.

Everything that is stored lives here; the only writer of tickets is
``dispatch.tickets``.  Import models from this package, not from submodules.
"""
from models.base import Base, Database, utcnow
from models.units import Unit, User, ApiToken, UserSession, UNIT_KINDS, ROLES, PLATFORM_KINDS
from models.catalog import Category, RoutingRule
from models.tickets import Ticket, TicketEvent, STATUSES, CHANNELS, URGENCIES, REQUEST_TYPES
from models.outbox import OutboxMessage, InboundMessage
from models.learning import ModelVersion, LabelCorrection
from models.dispatching import (SlaClock, Assignment, ExtensionRequest, SupervisionItem, CallbackTask,
                                CalendarYear, SUPERVISION_KINDS)
from models.integrations import Linkage, Call, LINKAGE_STATES
from models.audit import AuditEvent
from models.lexicon import LexiconEntry
from models.knowledge import KnowledgeEntry, KnowledgeRevision
from models.templates import ReplyTemplate

__all__ = [
    "Base", "Database", "utcnow",
    "Unit", "User", "ApiToken", "UserSession", "UNIT_KINDS", "ROLES", "PLATFORM_KINDS",
    "Category", "RoutingRule",
    "Ticket", "TicketEvent", "STATUSES", "CHANNELS", "URGENCIES", "REQUEST_TYPES",
    "OutboxMessage", "InboundMessage",
    "ModelVersion", "LabelCorrection",
    "SlaClock", "Assignment", "ExtensionRequest", "SupervisionItem", "CallbackTask", "CalendarYear",
    "SUPERVISION_KINDS",
    "Linkage", "Call", "LINKAGE_STATES",
    "AuditEvent",
    "LexiconEntry",
    "KnowledgeEntry", "KnowledgeRevision", "ReplyTemplate",
]
