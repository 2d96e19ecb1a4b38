"""Domain errors.  The web layer turns them into JSON errors with the HTTP
status named here; the CLI prints their message."""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict | None = None, code: str | None = None,
                 current: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.current = current
        if code:
            self.code = code


class NotFound(DomainError):
    status, code = 404, "not_found"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class Conflict(DomainError):
    status, code = 409, "conflict"


class Invalid(DomainError):
    status, code = 422, "invalid"


# Field names as the console shows them (the error names both: the JSON
# path as the key, the Chinese label in the message).
FIELD_LABELS = {
    "channel": "渠道", "caller": "来电人", "caller.name": "来电人姓名", "caller.phone": "联系电话",
    "description": "诉求内容", "address": "事发地址", "subject": "标题", "urgency": "紧急程度",
    "request_type": "诉求类型", "confidential": "保密", "category": "分类", "unit_id": "承办单位",
    "call_id": "来电编号", "transcript": "通话转写", "emergency_dismissal": "排除紧急的理由",
    "emergency_dismissal.reason": "排除紧急的理由", "reason": "理由", "reply_text": "答复内容",
    "days": "延期天数", "satisfaction": "回访结果", "note": "备注", "into_ticket_id": "并入工单",
    "suggested_unit": "建议承办单位", "assist_unit_ids": "协办单位", "expected_version": "版本号",
    "knowledge_id": "知识条目", "question": "问题", "answer": "答复内容", "detail": "问题详情",
    "unit_code": "单位", "valid_from": "有效期起", "valid_until": "有效期止", "source": "来源",
    "text": "文本", "phrase": "词条", "body": "请求体", "title": "标题",
}


def _problem(err: dict) -> str:
    """A pydantic error in Chinese, without regexes or type names."""
    kind, ctx, given = err.get("type", ""), err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        return "为必填项"
    if kind == "string_too_long":
        n = f"（现 {len(given)} 字）" if isinstance(given, str) else ""
        return f"不能超过 {ctx.get('max_length')} 字{n}"
    if kind == "string_too_short":
        return "不能为空" if ctx.get("min_length") == 1 else f"至少 {ctx.get('min_length')} 字"
    if kind == "string_pattern_mismatch":
        return "格式不正确"
    if kind in ("literal_error", "enum"):
        return "取值无效"
    if kind.startswith("int_") or kind == "int_type":
        return "应为整数"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return "超出允许范围"
    if kind.startswith("bool"):
        return "应为是或否"
    if kind == "extra_forbidden":
        return "不支持此字段"
    if kind in ("too_long", "too_short"):
        return "项数超出允许范围"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "类型不正确"
    return "无效"


def field_label(path: str) -> str:
    return FIELD_LABELS.get(path) or FIELD_LABELS.get(path.rsplit(".", 1)[-1]) or f"字段 {path} "


def validate(model, data: dict):
    """``model.model_validate(data)`` (pydantic), or Invalid naming each
    offending field by its JSON path, with a Chinese message that names the
    field as the console does ("联系电话格式不正确")."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as e:
        fields = {}
        for err in e.errors():
            path = ".".join(str(p) for p in err["loc"]) or "body"
            fields[path] = field_label(path) + _problem(err)
        raise Invalid("填写有误：" + "；".join(fields.values()), fields, code="validation_failed") from None


def validate_typed(models: dict, data: dict):
    """Validate a message whose "type" field picks its model from ``models``."""
    kind = data.get("type")
    model = models.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise Invalid("未知的消息类型", {"type": f"one of {', '.join(models)}"}, code="unknown_type")
    return validate(model, data)
