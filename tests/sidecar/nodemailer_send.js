// Send one message with nodemailer, then read the sidecar's journal with fetch: what a Node suite
// does against a smtpfake sidecar. Usage: node nodemailer_send.js SMTP_PORT API_URL SUBJECT FROM TO
// Prints one JSON line: {"sent": bool, "error": {...} | null, "api_messages": N}; exit 0 unless
// the script itself breaks (a refused delivery is a result, not a crash).
"use strict";
const nodemailer = require("nodemailer");

async function main() {
  const [port, api, subject, from, to] = process.argv.slice(2);
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: Number(port),
    secure: false,
    ignoreTLS: true,
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 5000,
  });
  const out = { sent: false, error: null, api_messages: null };
  try {
    const info = await transport.sendMail({
      from,
      to,
      subject,
      text: "Sent by nodemailer.",
    });
    out.sent = true;
    out.response = info.response;
  } catch (err) {
    out.error = { code: err.code || null, responseCode: err.responseCode || null, message: err.message };
  }
  transport.close();
  // Node's fetch sends no Origin header, so the sidecar's browser guard lets it through.
  const res = await fetch(`${api}/api/messages`);
  if (res.status !== 200) throw new Error(`GET /api/messages: ${res.status} ${await res.text()}`);
  out.api_messages = (await res.json()).count;
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
