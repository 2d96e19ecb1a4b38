"""WSGI entry point for production serving, one process per gunicorn
instance with threads (Flask-SocketIO's threading mode with simple-websocket):

    gunicorn --workers 1 --threads 64 --bind 0.0.0.0:5000 hotline.wsgi:app

Run several such processes behind a sticky load balancer with REDIS_URL set.
"""
from hotline.app import create_app
from hotline.cli import start_periodic, warm_classifier

app = create_app()
warm_classifier()
start_periodic(app)
