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
# The machine's LAN address, found without a network call (qrlogin.local_network: the
# source address of a route to a private range), else `hostname -I`. The QR holds SITE_URL,
# so a phone on the same Wi-Fi can open it even when the PC page is on 127.0.0.1.
LAN_IP="$("$PY" -c 'from qrlogin.local_network import lan_ipv4; print(lan_ipv4() or "")' 2>/dev/null || true)"
if [ -z "$LAN_IP" ]; then
  LAN_IP="$(hostname -I 2>/dev/null | awk '{print $1}' || true)"
fi
if [ -n "$LAN_IP" ]; then
  HOST="$LAN_IP"
  export SITE_URL="${SITE_URL:-http://$LAN_IP:$PORT}"
  PHONE_NOTE="(the phone must be on the same Wi-Fi as this machine)"
else
  HOST="127.0.0.1"
  PHONE_NOTE="(no LAN address found: only this machine can open the QR; set SITE_URL)"
fi
cat <<MSG

  django-qrlogin demo
  -------------------
  Demo user:  demo
  Password:   $PASSWORD     (new each start; the user is also an admin)

  On the PC:     http://$HOST:$PORT/qrlogin/   (or http://127.0.0.1:$PORT/qrlogin/)
  On the phone:  http://$HOST:$PORT/accounts/login/   $PHONE_NOTE
                 log in as demo, then scan the QR with the phone's camera
                 (the QR holds ${SITE_URL:-http://$HOST:$PORT}/qrlogin/s/<id>/)
  Admin:         http://$HOST:$PORT/admin/
  Phone API:     see README.md ("The API with curl")

  Stop with Ctrl-C.

MSG
exec "$VENV/bin/uvicorn" config.asgi:application --host 0.0.0.0 --port "$PORT" --log-level warning
