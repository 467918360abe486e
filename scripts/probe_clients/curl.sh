#!/bin/sh
# A one-shot client for `smtpfake probe`: curl's SMTP (libcurl), with its own exit statuses
# (0 delivered; 7, 55, 56... for failures, which the default map reads as permanent).
#   smtpfake probe -- sh scripts/probe_clients/curl.sh
set -u
# the path is the name curl gives in EHLO (else it uses the uploaded file's name)
url="smtp://$SMTP_HOST:$SMTP_PORT/client.probe.test"
set -- curl --silent --show-error --max-time 60 --mail-from "$SMTP_FROM" \
  --upload-file "$SMTP_MESSAGE_FILE"
case "$SMTP_TLS" in
  starttls) set -- "$@" --ssl-reqd --cacert "$SMTP_CA_FILE" ;;
  implicit) url="smtps://$SMTP_HOST:$SMTP_PORT/client.probe.test"; set -- "$@" --cacert "$SMTP_CA_FILE" ;;
esac
[ -n "$SMTP_USER" ] && set -- "$@" --user "$SMTP_USER:$SMTP_PASSWORD"
old_ifs=$IFS; IFS=,
for rcpt in $SMTP_TO; do set -- "$@" --mail-rcpt "$rcpt"; done
IFS=$old_ifs
exec "$@" "$url"
