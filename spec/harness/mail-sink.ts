// SMTP sink for Synapse's validation mails. jest workers are separate processes from the
// globalSetup that runs the sink, so each message is written to a JSON file in `dir`.
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SunkMail {
  to: string[];
  subject: string;
  text: string;
}

export interface MailSink {
  port: number;
  dir: string;
  close(): Promise<void>;
}

export function startMailSink(dir: string): Promise<MailSink> {
  mkdirSync(dir, { recursive: true });
  let n = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'], // plain SMTP: Synapse runs with enable_tls false
    logger: false,
    onData(stream, session, done) {
      // Synapse sends base64 MIME parts, so the raw data must be decoded before looking for links.
      simpleParser(stream).then((mail) => {
        const body: SunkMail = {
          to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          subject: mail.subject ?? '',
          text: mail.text ?? '',
        };
        const file = join(dir, `${Date.now()}-${process.pid}-${n++}.json`);
        // Write then rename, so a polling reader never sees a half-written file.
        writeFileSync(`${file}.tmp`, JSON.stringify(body));
        renameSync(`${file}.tmp`, file);
        done();
      }, done);
    },
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      resolve({ port, dir, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}

/**
 * Waits for a mail to `address` (case-insensitive) whose file is newer than `since`
 * (epoch ms; default: any). Pass `since: Date.now()` taken before the request to skip older mails.
 */
export async function waitForMail(
  dir: string,
  address: string,
  { timeoutMs = 15000, since }: { timeoutMs?: number; since?: number } = {},
): Promise<SunkMail> {
  const want = address.toLowerCase();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    for (const f of files) {
      const path = join(dir, f);
      if (since !== undefined && statSync(path).mtimeMs < since) continue;
      const mail = JSON.parse(readFileSync(path, 'utf8')) as SunkMail;
      if (mail.to.some((t) => t.toLowerCase() === want)) return mail;
    }
    if (Date.now() > deadline) throw new Error(`no mail to ${address} in ${dir} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The validation link (`.../submit_token?token=...&client_secret=...&sid=...`) in a mail's text part. */
export function extractLink(text: string): URL {
  const m = /https?:\/\/[^\s"'<>]+submit_token\?[^\s"'<>]+/.exec(text);
  if (!m) throw new Error(`no submit_token link in mail text:\n${text}`);
  return new URL(m[0]);
}
