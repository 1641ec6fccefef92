#!/usr/bin/env bash
# Start the demo: venv, install, migrate, a demo user, and the site on port 8000 (ASGI).
source "$(dirname "$0")/venv.sh" demo
PORT="${PORT:-8000}"
"$PY" manage.py migrate --noinput -v 0
PASSWORD="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(9))')"
"$PY" manage.py shell -v 0 -c "
from django.contrib.auth import get_user_model
User = get_user_model()
user, _ = User.objects.get_or_create(username='demo')
user.set_password('$PASSWORD')
user.is_staff = user.is_superuser = True
user.save()
"
LAN_IP="$(hostname -I 2>/dev/null | awk '{print $1}')"
LAN_IP="${LAN_IP:-127.0.0.1}"
cat <<MSG

  django-qrlogin demo
  -------------------
  Demo user:  demo
  Password:   $PASSWORD     (new each start; the user is also an admin)

  On the PC:     http://127.0.0.1:$PORT/qrlogin/
  On the phone:  http://$LAN_IP:$PORT/accounts/login/   (log in as demo, then scan
                 the QR with the phone's camera, or open the URL it holds)
  Admin:         http://127.0.0.1:$PORT/admin/
  Phone API:     see README.md ("The API with curl")

  Stop with Ctrl-C.

MSG
exec "$VENV/bin/uvicorn" config.asgi:application --host 0.0.0.0 --port "$PORT" --log-level warning
