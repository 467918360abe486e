// A one-shot client for `smtpfake probe`: Node's nodemailer (sendMail with the raw message),
// exiting as sendmail does: 0 delivered, 75 transient (a 4yz reply, a lost connection or a
// timeout), 1 permanent (a 5yz reply, anything else). Needs nodemailer on NODE_PATH.
//   NODE_PATH=~/.cache/smtpfake/node-deps/node_modules smtpfake probe -- node scripts/probe_clients/nodemailer_send.js
"use strict";
const fs = require("fs");
const nodemailer = require("nodemailer");

const TRANSIENT_CODES = new Set(["ECONNECTION", "ETIMEDOUT", "ESOCKET", "ECONNRESET", "EPROTOCOL"]);

async function main() {
  const env = process.env;
  const tls = env.SMTP_TLS || "none";
  const transport = nodemailer.createTransport({
    host: env.SMTP_HOST,
    port: Number(env.SMTP_PORT),
    secure: tls === "implicit",
    requireTLS: tls === "starttls",
    ignoreTLS: tls === "none",
    tls: env.SMTP_CA_FILE ? { ca: fs.readFileSync(env.SMTP_CA_FILE) } : undefined,
    auth: env.SMTP_USER ? { user: env.SMTP_USER, pass: env.SMTP_PASSWORD } : undefined,
    connectionTimeout: 60000,
    greetingTimeout: 60000,
    socketTimeout: 60000,
  });
  try {
    await transport.sendMail({
      envelope: { from: env.SMTP_FROM, to: env.SMTP_TO.split(",") },
      raw: fs.readFileSync(env.SMTP_MESSAGE_FILE),
    });
    return 0;
  } catch (err) {
    console.error(`${err.code || "error"} ${err.responseCode || ""} ${err.message}`);
    if (err.responseCode) return err.responseCode < 500 ? 75 : 1;
    return TRANSIENT_CODES.has(err.code) ? 75 : 1;
  } finally {
    transport.close();
  }
}

main().then((status) => process.exit(status));
