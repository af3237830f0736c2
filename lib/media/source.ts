import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { asBuffer, collect, knownLength, type BodyData } from '../core/body';
import { MediaTooLargeError, ValidationError } from '../core/errors';

/** How much of a stream of unknown length is buffered to learn its length, when the server states no upload limit. */
export const DEFAULT_BUFFER_LIMIT = 50 * 1024 * 1024;

/** A body whose length is known, and its first bytes when they were asked for. */
export interface ResolvedBody {
  data: BodyData;
  length: number;
  head: Buffer;
}

/**
 * Gives `data` a known length: bytes and files have their own (checked against `size`), a
 * stream or factory takes `size`, and one without is read into memory up to the upload
 * limit (DEFAULT_BUFFER_LIMIT when the server states none), beyond which it is a
 * MediaTooLargeError. With `headBytes`, the first bytes are read too: from the bytes or the
 * file, or peeked from the stream (its bytes are handed on in `data`; a factory's first
 * stream is only peeked at and closed).
 */
export async function resolveBody(
  data: BodyData,
  size: number | undefined,
  uploadLimit: () => Promise<number | undefined>,
  headBytes = 0,
): Promise<ResolvedBody> {
  const measured = await knownLength('data', data);
  if (measured !== undefined) {
    if (size !== undefined && size !== measured) throw new ValidationError('size', 'must match the length of the data');
    const head = headBytes === 0 ? Buffer.alloc(0) : typeof data === 'string' ? await readHead(data, headBytes) : asBuffer(data as Buffer).subarray(0, headBytes);
    return { data, length: measured, head };
  }
  if (size !== undefined && headBytes === 0) return { data, length: size, head: Buffer.alloc(0) };
  const stream = typeof data === 'function' ? data() : (data as Readable);
  if (size === undefined) {
    const cap = (await uploadLimit()) ?? DEFAULT_BUFFER_LIMIT;
    const buf = await collect(stream, cap, () => new MediaTooLargeError(cap));
    return { data: buf, length: buf.length, head: buf.subarray(0, headBytes) };
  }
  const peeked = await peek(stream, headBytes);
  if (typeof data === 'function') {
    peeked.stream.destroy();
    return { data, length: size, head: peeked.head };
  }
  return { data: peeked.stream, length: size, head: peeked.head };
}

async function readHead(file: string, n: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await handle.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The first `n` bytes of a stream, and a stream of all its bytes (those included), read on demand. */
export async function peek(source: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const next = await it.next();
    if (next.done) {
      done = true;
      break;
    }
    chunks.push(next.value);
    size += next.value.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    try {
      yield* chunks;
      while (!done) {
        const next = await it.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await it.return?.(); // the consumer stopped early: close the source
    }
  }
  return { head: Buffer.concat(chunks).subarray(0, n), stream: Readable.from(all(), { objectMode: false }) };
}
