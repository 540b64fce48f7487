#!/bin/sh
# One image, three roles. The app migrates on boot (as the owner role) before serving.
set -eu
case "${1:-app}" in
  app)
    python manage.py setup_db
    export PULSE_DB_POOL=1
    exec daphne -b 0.0.0.0 -p 8000 --proxy-headers pulse.asgi:application ;;
  checks)
    exec celery -A pulse worker -n checks@%h -Q checks --loglevel INFO ;;
  worker)
    exec celery -A pulse worker -n worker@%h -Q default,alerts,notifications --loglevel INFO ;;
  beat)
    exec celery -A pulse beat --loglevel INFO ;;
  *)
    exec "$@" ;;
esac
