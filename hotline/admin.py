"""Administration: the routing catalogue (派单目录) and the classifier's model
registry (activate, roll back, retrain on demand; candidate figures beside
the active model's).  Admins only; every change is logged with who and why."""
from __future__ import annotations

import logging
from typing import Optional

from flask import Blueprint, Flask, current_app, jsonify, render_template
from pydantic import Field
from sqlalchemy import func, select

from dispatch import routing
from runtime import jobs
from dispatch.access import Actor
from dispatch.capabilities import require
from dispatch.errors import Conflict, Invalid, NotFound
from hotline.auth import api_auth, client_address, csrf, current_actor, page_auth
from hotline.schemas import DbInt, Strict, parse
from hotline.current import db
from models import Category, LabelCorrection, RoutingRule, Unit
from models.audit import record

log = logging.getLogger(__name__)
api = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")
pages = Blueprint("admin", __name__)


def _admin() -> Actor:
    actor = current_actor()
    require(actor, "system.admin")
    return actor


def _visible_platforms(s, actor: Actor) -> list[Unit]:
    q = select(Unit).where(Unit.kind.in_(("province_platform", "city_platform")))
    if not actor.is_province:
        q = q.where(Unit.path.startswith(actor.unit_path))
    return list(s.scalars(q.order_by(Unit.path)))


def _audit(s, actor: Actor, action: str, object_type: str, object_id, reason: str = "", **payload) -> None:
    record(s, action, object_type, object_id, reason, payload, actor_id=actor.user_id,
           actor_label=actor.display_name, address=client_address())


def _rule_json(r: RoutingRule, platform: Unit) -> dict:
    return {"id": r.id, "platform": {"id": platform.id, "name": platform.name},
            "category": r.category.full_name if r.category else None,
            "category_code": r.category.code if r.category else None,
            "division_code": r.division_code, "unit": {"id": r.unit.id, "name": r.unit.name},
            "priority": r.priority, "note": r.note, "active": r.active}


@api.get("/routing-rules")
@api_auth
def list_rules():
    actor = _admin()
    with db().session() as s:
        platforms = {p.id: p for p in _visible_platforms(s, actor)}
        rules = s.scalars(select(RoutingRule).where(RoutingRule.platform_id.in_(list(platforms)))
                          .order_by(RoutingRule.platform_id, RoutingRule.active.desc(), RoutingRule.id)).all()
        return jsonify({"items": [_rule_json(r, platforms[r.platform_id]) for r in rules]})


class RuleIn(Strict):
    platform_id: DbInt
    category: Optional[str] = Field(None, max_length=300)
    division_code: str = Field("", max_length=12, pattern=r"^[0-9]*$")
    unit_id: DbInt
    priority: int = Field(100, ge=0, le=10_000)
    note: str = Field(..., min_length=1, max_length=200)


@api.post("/routing-rules")
@api_auth
def create_rule():
    actor = _admin()
    body = parse(RuleIn)
    with db().session() as s:
        platforms = {p.id: p for p in _visible_platforms(s, actor)}
        platform = platforms.get(body.platform_id)
        if platform is None:
            raise Invalid("平台不存在或无权管理", {"platform_id": "not a platform you administer"})
        unit = s.get(Unit, body.unit_id)
        if unit is None or not unit.active or not unit.path.startswith(platform.path):
            raise Invalid("承办单位须在该平台之下", {"unit_id": "not an active unit under the platform"})
        cat = None
        if body.category:
            cat = s.scalar(select(Category).where((Category.code == body.category)
                                                  | (Category.full_name == body.category)))
            if cat is None:
                raise Invalid("未知的分类", {"category": f"unknown category {body.category!r}"})
        rule = RoutingRule(platform_id=platform.id, category_id=cat.id if cat else None,
                           division_code=body.division_code, unit_id=unit.id, priority=body.priority,
                           note=f"{body.note}（{actor.username}）")
        s.add(rule)
        s.flush()
        log.info("routing rule %s added by %s: %s × %s → %s (%s)", rule.id, actor.username,
                 cat.full_name if cat else "*", body.division_code or "*", unit.code, body.note)
        _audit(s, actor, "routing_rule.create", "routing_rule", rule.id, body.note,
               platform=platform.code, category=cat.full_name if cat else None,
               division_code=body.division_code, unit=unit.code, priority=body.priority)
        s.refresh(rule)
        out = _rule_json(rule, platform)
    routing.invalidate()         # this process routes with the new rule at once
    return jsonify(out), 201


class ReasonIn(Strict):
    reason: str = Field(..., min_length=1, max_length=500)


@api.post("/routing-rules/<int:rule_id>/deactivate")
@api_auth
def deactivate_rule(rule_id: int):
    actor = _admin()
    body = parse(ReasonIn)
    with db().session() as s:
        platforms = {p.id: p for p in _visible_platforms(s, actor)}
        rule = s.get(RoutingRule, rule_id)
        if rule is None or rule.platform_id not in platforms:
            raise NotFound("派单规则不存在")
        if rule.category_id is None and rule.division_code == "":
            raise Conflict("兜底规则不能停用：每个平台必须有兜底承办单位", code="fallback_rule")
        rule.active = False
        rule.note = f"{rule.note}；停用：{body.reason}（{actor.username}）"
        log.info("routing rule %s deactivated by %s: %s", rule_id, actor.username, body.reason)
        _audit(s, actor, "routing_rule.deactivate", "routing_rule", rule_id, body.reason)
        out = _rule_json(rule, platforms[rule.platform_id])
    routing.invalidate()
    return jsonify(out)


@api.get("/models")
@api_auth
def list_models():
    _admin()
    from classifier import registry

    with db().session() as s:
        versions = [registry.describe(v) for v in registry.list_versions(s)]
        pending = s.scalar(select(func.count()).select_from(LabelCorrection)
                           .where(LabelCorrection.used_in_version.is_(None)))
        total = s.scalar(select(func.count()).select_from(LabelCorrection))
    return jsonify({"items": versions, "corrections": {"total": total, "unused": pending}, "serving": _serving()})


def _serving() -> list[dict]:
    """The models this process answers with (a built-in default serves
    while the registry has no active version of its kind)."""
    from classifier import get_predictor, units

    out = []
    for kind, get in (("topic", get_predictor), ("units", units.get_router)):
        try:
            out.append({"kind": kind, "version": getattr(get(), "version", "")})
        except Exception:  # a model that cannot load is shown as such, the page still works
            log.exception("model %s could not be loaded", kind)
            out.append({"kind": kind, "version": None})
    return out


@api.post("/models/<version>/activate")
@api_auth
def activate_model(version: str):
    actor = _admin()
    from classifier import registry

    with db().session() as s:
        try:
            row = registry.activate(s, version)
        except registry.RegistryError as e:
            raise Invalid(str(e), {"version": version}) from None
        log.info("model %s activated by %s", version, actor.username)
        _audit(s, actor, "model.activate", "model_version", version)
        return jsonify(registry.describe(row))


@api.post("/models/rollback")
@api_auth
def rollback_model():
    actor = _admin()
    from classifier import registry

    with db().session() as s:
        try:
            row = registry.rollback(s)
        except registry.RegistryError as e:
            raise Conflict(str(e), code="no_previous_version") from None
        log.info("model rolled back to %s by %s", row.version, actor.username)
        _audit(s, actor, "model.rollback", "model_version", row.version)
        return jsonify(registry.describe(row))


def _request_retraining(job_fn, what: str, audit_action: str):
    """Queue a training job (inline on the embedded default) and audit who asked."""
    actor = _admin()
    url = current_app.config["HOTLINE"].database_url
    job = jobs.enqueue(job_fn, url, queue=jobs.QUEUE_TRAINING, note=f"requested by {actor.username}")
    log.info("%s requested by %s (job %s)", what, actor.username, job.id if job else "inline")
    with db().session() as s:
        _audit(s, actor, audit_action, "model_version", "", job_id=job.id if job else "inline")
    return jsonify({"queued": job is not None, "job_id": job.id if job else None,
                    "ran_inline": job is None}), 202


@api.post("/models/retrain")
@api_auth
def retrain_model():
    from classifier.jobs import retrain

    return _request_retraining(retrain, "retraining", "model.retrain")


@api.post("/models/retrain-units")
@api_auth
def retrain_units():
    """Retrain the unit router from confirmed history (classifier.unit_jobs)."""
    from classifier.unit_jobs import retrain_units as job_fn

    return _request_retraining(job_fn, "unit router retraining", "model.retrain_units")


@api.get("/calendar")
@api_auth
def calendar_status():
    """The working-day calendar in force: years, provisional ones, and open
    tickets whose dues wait for a missing year (the admin page's alert)."""
    from dispatch import dues

    _admin()
    with db().session() as s:
        return jsonify(dues.status(s))


@pages.get("/admin")
@page_auth("system.admin")
def admin_page():
    return render_template("admin.html")


def init_app(app: Flask) -> None:
    csrf.exempt(api)  # api_auth checks CSRF itself for cookie sessions
    app.register_blueprint(api)
    app.register_blueprint(pages)


# ------------------------------------------------------------ lexicon (通俗化词条)
class LexiconIn(Strict):
    phrase: str = Field(..., min_length=1, max_length=100)
    category: str = Field(..., min_length=1, max_length=300)
    unit_code: str = Field("", max_length=64)
    note: str = Field(..., min_length=1, max_length=200)


class LexiconTestIn(Strict):
    text: str = Field(..., min_length=1, max_length=5000)
    address: str = Field("", max_length=300)
    platform_id: Optional[int] = None


@api.get("/lexicon")
@api_auth
def list_lexicon():
    from flask import request

    from dispatch import lexicon as dlex
    from models import LexiconEntry

    _admin()
    q = (request.args.get("q") or "").strip()[:100]
    try:
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(200, max(1, int(request.args.get("per_page", 50))))
    except ValueError:
        raise Invalid("page/per_page 应为整数", {"page": "integer", "per_page": "integer"}) from None
    with db().session() as s:
        stmt = select(LexiconEntry)
        if q:
            like = f"%{q}%"
            stmt = stmt.join(Category, Category.id == LexiconEntry.category_id).where(
                LexiconEntry.phrase.like(like) | Category.full_name.like(like))
        total = s.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = s.scalars(stmt.order_by(LexiconEntry.updated_at.desc(), LexiconEntry.id.desc())
                         .offset((page - 1) * per_page).limit(per_page)).all()
        active = s.scalar(select(func.count(LexiconEntry.id)).where(LexiconEntry.active.is_(True)))
        return jsonify({"items": [dlex.describe(e) for e in rows], "total": total, "active": active,
                        "page": page, "per_page": per_page})


@api.post("/lexicon")
@api_auth
def add_lexicon():
    from dispatch import lexicon as dlex

    actor = _admin()
    body = parse(LexiconIn)
    with db().session() as s:
        e = dlex.add_entry(s, body.phrase, body.category, body.unit_code, body.note,
                           actor_id=actor.user_id, actor_label=actor.display_name)
        out = dlex.describe(e)
    dlex.invalidate()
    return jsonify(out), 201


def _set_lexicon_active(entry_id: int, active: bool):
    from dispatch import lexicon as dlex

    actor = _admin()
    body = parse(ReasonIn)
    with db().session() as s:
        e = dlex.set_active(s, entry_id, active, body.reason, actor_id=actor.user_id,
                            actor_label=actor.display_name)
        out = dlex.describe(e)
    dlex.invalidate()
    return jsonify(out)


@api.post("/lexicon/<int:entry_id>/disable")
@api_auth
def disable_lexicon(entry_id: int):
    return _set_lexicon_active(entry_id, False)


@api.post("/lexicon/<int:entry_id>/enable")
@api_auth
def enable_lexicon(entry_id: int):
    return _set_lexicon_active(entry_id, True)


@api.post("/lexicon/test")
@api_auth
def test_lexicon():
    """Which active entries a text hits, and what intake would suggest for
    it on a city platform (the first one the admin sees, or platform_id)."""
    from dispatch import lexicon as dlex
    from hotline.current import tickets

    actor = _admin()
    body = parse(LexiconTestIn)
    with db().session() as s:
        platforms = [p for p in _visible_platforms(s, actor) if p.kind == "city_platform"]
        if body.platform_id is not None:
            platforms = [p for p in platforms if p.id == body.platform_id]
        if not platforms:
            raise Invalid("没有可测试的城市平台", {"platform_id": "no visible city platform"})
        platform = platforms[0]
        rt = dlex.current(s, platform)
        hits = [{"phrase": h.entry.phrase, "matter": h.entry.matter, "unit": h.entry.unit,
                 "entry_id": h.entry.entry_id, "start": h.start} for h in rt.lexicon.match(body.text)]
        sug = tickets().suggest(s, platform, body.text, "", body.address)
        return jsonify({"platform": {"id": platform.id, "name": platform.name}, "hits": hits,
                        "suggestion": {"matter": sug.category.full_name if sug.category else None,
                                       "unit": {"id": sug.unit.id, "code": sug.unit.code, "name": sug.unit.name},
                                       "unit_confidence": sug.unit_confidence,
                                       "needs_review": sug.abstain or sug.fallback, "reasons": sug.reasons}})
