"""Request bodies, validated with pydantic.  Errors become 422 with the
offending fields named by their JSON path."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from flask import request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dispatch.errors import DomainError, Invalid, validate
from models import CHANNELS, REQUEST_TYPES, URGENCIES

# Integers that reach a query fit the database's ``integer`` column.
DbInt = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Channel = Literal[tuple(CHANNELS)]  # type: ignore[valid-type]
Urgency = Literal[tuple(URGENCIES)]  # type: ignore[valid-type]
RequestType = Literal[tuple(REQUEST_TYPES)]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Caller(Strict):
    name: str = Field("", max_length=100)
    phone: str = Field("", max_length=32, pattern=r"^[0-9+\-\s*()]*$")


class TicketIn(Strict):
    channel: Channel = "phone"
    caller: Caller = Field(default_factory=Caller)
    description: str = Field(min_length=1, max_length=5000)
    address: str = Field("", max_length=300)
    subject: str = Field("", max_length=200)
    urgency: Urgency = "general"
    request_type: RequestType = "complaint"
    confidential: bool = False
    category: Optional[str] = Field(None, max_length=300)
    unit_id: Optional[DbInt] = None
    call_id: Optional[str] = Field(None, max_length=64)
    transcript: str = Field("", max_length=100_000)
    # The agent waved the emergency banner away: why (recorded on the ticket).
    emergency_dismissal: Optional["EmergencyDismissalIn"] = None

    def intake(self, hold: bool = False):
        """The service's IntakeData for this body."""
        from dispatch.intake import IntakeData

        return IntakeData(channel=self.channel, description=self.description, caller_name=self.caller.name,
                          caller_phone=self.caller.phone, address=self.address, subject=self.subject,
                          urgency=self.urgency, request_type=self.request_type, confidential=self.confidential,
                          category=self.category, unit_id=self.unit_id, call_id=self.call_id,
                          transcript=self.transcript, hold=hold)


class EmergencyDismissalIn(Strict):
    reason: str = Field(min_length=1, max_length=500)
    kind: Optional[Literal["police110", "fire119", "medical120", "utility_urgent"]] = None


TicketIn.model_rebuild()


class ActionIn(Strict):
    expected_version: Optional[DbInt] = None
    reason: Optional[str] = Field(None, max_length=2000)
    reply_text: Optional[str] = Field(None, max_length=5000)
    unit_id: Optional[DbInt] = None
    days: Optional[DbInt] = None
    satisfaction: Optional[str] = Field(None, max_length=32)
    note: Optional[str] = Field(None, max_length=2000)
    into_ticket_id: Optional[DbInt] = None
    suggested_unit: Optional[str] = Field(None, max_length=200)
    # Co-handling (协办) units at dispatch; the corrected category when a return is upheld.
    assist_unit_ids: Optional[list[DbInt]] = Field(None, max_length=10)
    category: Optional[str] = Field(None, max_length=300)
    # 直办 from the knowledge base: the entry answered from.
    knowledge_id: Optional[DbInt] = None


class SuggestIn(Strict):
    description: str = Field(min_length=1, max_length=5000)
    subject: str = Field("", max_length=200)
    address: str = Field("", max_length=300)
    category: Optional[str] = Field(None, max_length=300)

    @field_validator("description")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v


class DuplicatesIn(Strict):
    description: str = Field(min_length=1, max_length=5000)
    subject: str = Field("", max_length=200)
    address: str = Field("", max_length=300)
    category: Optional[str] = Field(None, max_length=300)
    caller_phone: str = Field("", max_length=32)
    # From the /suggest answer the client just had: with it, the category
    # (possibly none) and the place are taken as given and the classifier
    # is not asked again.
    division_code: Optional[str] = Field(None, max_length=12, pattern=r"^[0-9]*$")


class BadJSON(DomainError):
    status, code = 400, "invalid_json"


class UnsupportedMedia(DomainError):
    status, code = 415, "unsupported_media_type"


def parse(model: type[BaseModel]):
    """Parse the request's JSON body into ``model`` or raise a clear error."""
    if request.content_length == 0 or not request.get_data(cache=True):
        data = {}
    else:
        if not request.is_json:
            raise UnsupportedMedia("请求体须为 JSON（Content-Type: application/json）")
        data = request.get_json(silent=True)
        if data is None:
            raise BadJSON("请求体不是合法的 JSON")
    if not isinstance(data, dict):
        raise Invalid("请求体须为 JSON 对象", {"body": "expected an object"})
    return validate(model, data)
