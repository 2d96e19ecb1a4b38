"""WSGI entry point for running the app under another WSGI server.

The production command is ``python -m hotline serve --production`` (gevent,
thousands of open consoles per process; docs/deployment.md).  Under
gunicorn's threaded worker (``gunicorn --workers 1 --threads 64
hotline.wsgi:app``) each open console holds a thread, so 64 consoles stop
HTTP altogether: use it only where no console connects (an API-only pool).
"""
from hotline.app import create_app
from hotline.cli import start_periodic, warm_classifier
from hotline.realtime import deliver_in_background

app = create_app()
warm_classifier()
deliver_in_background()
start_periodic(app)
