#!/bin/sh
# A one-shot client for `smtpfake probe`: swaks, with its own exit statuses (0 delivered; 2x for
# a failure at each stage, which the probe's default map reads as permanent).
#   smtpfake probe -- sh scripts/probe_clients/swaks.sh
set -u
set -- swaks --server "$SMTP_HOST" --port "$SMTP_PORT" --from "$SMTP_FROM" --to "$SMTP_TO" \
  --data "@$SMTP_MESSAGE_FILE" --timeout 60 --hide-all
case "$SMTP_TLS" in
  starttls) set -- "$@" --tls --tls-verify --tls-ca-path "$SMTP_CA_FILE" ;;
  implicit) set -- "$@" --tls-on-connect --tls-verify --tls-ca-path "$SMTP_CA_FILE" ;;
esac
[ -n "$SMTP_USER" ] && set -- "$@" --auth-user "$SMTP_USER" --auth-password "$SMTP_PASSWORD"
exec "$@"
