#!/bin/sh
# A one-shot client for `smtpfake probe`: msmtp, a sendmail replacement; its exit statuses are
# sendmail's (sysexits.h: 75 EX_TEMPFAIL for a 4yz reply), so the default map fits it.
#   smtpfake probe -- sh scripts/probe_clients/msmtp.sh
set -u
set -- msmtp --file=/dev/null --host="$SMTP_HOST" --port="$SMTP_PORT" --from="$SMTP_FROM" \
  --timeout=60
case "$SMTP_TLS" in
  starttls) set -- "$@" --tls=on --tls-starttls=on --tls-trust-file="$SMTP_CA_FILE" ;;
  implicit) set -- "$@" --tls=on --tls-starttls=off --tls-trust-file="$SMTP_CA_FILE" ;;
  *) set -- "$@" --tls=off ;;
esac
if [ -n "$SMTP_USER" ]; then
  set -- "$@" --auth=on --user="$SMTP_USER" --passwordeval="printf %s \"\$SMTP_PASSWORD\""
else
  set -- "$@" --auth=off
fi
old_ifs=$IFS; IFS=,
# shellcheck disable=SC2086
set -- "$@" -- $SMTP_TO
IFS=$old_ifs
exec "$@" <"$SMTP_MESSAGE_FILE"
