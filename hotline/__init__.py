"""The web service: app factory, REST API, console pages, Socket.IO, CLI.

Thin: parse, validate, call a service in ``dispatch``, serialise.
``create_app`` is imported on first use, so importing a Flask-free module of
this package (``hotline.wiring``) loads no Flask."""


def __getattr__(name):
    if name == "create_app":
        from hotline.app import create_app

        return create_app
    raise AttributeError(name)


__all__ = ["create_app"]
