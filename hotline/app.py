"""The Flask app factory: one ``init_app`` per subsystem."""
from __future__ import annotations

import logging

from flask import Flask

from runtime.settings import Settings
from models.migrate import ensure_migrated


def create_app(settings: Settings | None = None, check_migrations: bool = True) -> Flask:
    settings = settings or Settings.from_env()
    if check_migrations:
        ensure_migrated(settings.database_url)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        JSON_AS_ASCII=False,
        # A form's CSRF token lives as long as a session may (and dies with it).
        WTF_CSRF_TIME_LIMIT=settings.session_max_hours * 3600,
        HOTLINE=settings,
    )
    app.json.ensure_ascii = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from hotline import (account, admin, api, auth, console, current, dbretry, emergencies, errors, figures_views,
                         hardening, open311, openapi, realtime, security_admin, webhooks, wiring)
    from hotline import intake_api, knowledge_api, print_view, reply_templates

    hardening.init_app(app)  # first: its bounded <int:…> converter must exist before any route
    runtime = wiring.boot(settings)
    app.extensions["hotline.runtime"] = runtime
    app.extensions["hotline.db"] = runtime.db
    app.extensions["hotline.tickets"] = runtime.tickets
    current.init_app(app)
    errors.init_app(app)
    dbretry.init_app(app)
    auth.init_app(app)
    api.init_app(app)
    knowledge_api.init_app(app)
    intake_api.init_app(app)
    print_view.init_app(app)
    reply_templates.init_app(app)
    console.init_app(app)
    realtime.init_app(app)
    webhooks.init_app(app)
    open311.init_app(app)
    figures_views.init_app(app)
    admin.init_app(app)
    emergencies.init_app(app)
    account.init_app(app)
    security_admin.init_app(app)
    openapi.init_app(app)
    return app
