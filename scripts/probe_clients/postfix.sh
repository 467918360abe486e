#!/bin/sh
# A retrying client for `smtpfake probe --retrying --port PORT`: a throwaway Postfix that relays
# to 127.0.0.1:PORT (started by /work/shared/tools/postfix-relay-style tooling; its config
# directory in $POSTFIX_DIR). Empties the queue of the previous case, then submits the message.
set -u
postsuper -c "$POSTFIX_DIR/etc" -d ALL >/dev/null 2>&1
old_ifs=$IFS; IFS=,
# shellcheck disable=SC2086
set -- $SMTP_TO
IFS=$old_ifs
exec sendmail -C "$POSTFIX_DIR/etc" -f "$SMTP_FROM" -- "$@" <"$SMTP_MESSAGE_FILE"
