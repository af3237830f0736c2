import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { deserialize, serialize } from 'node:v8';

/**
 * The on-disk framing of the crypto store's files: a sequence of frames, each
 * `[u32 length][8 bytes of SHA-256 of the payload][payload]`, the payload a v8-serialized
 * value (v8.serialize is the structured clone IndexedDB itself uses, so every value and key
 * the store holds round-trips). A reader stops at the first frame that is short or whose
 * checksum does not match: that is a torn write, and everything before it is intact.
 */
const HEADER = 12;

/** Encodes one value as a frame. */
export function encodeFrame(value: unknown): Buffer {
  const payload = serialize(value);
  const frame = Buffer.allocUnsafe(HEADER + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  checksum(payload).copy(frame, 4);
  payload.copy(frame, HEADER);
  return frame;
}

/** The frames of a file's bytes, up to the first torn or corrupt one; `validBytes` is where that one starts. */
export function decodeFrames(bytes: Buffer): { values: unknown[]; validBytes: number } {
  const values: unknown[] = [];
  let offset = 0;
  while (offset + HEADER <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const end = offset + HEADER + length;
    if (end > bytes.length) break;
    const payload = bytes.subarray(offset + HEADER, end);
    if (!checksum(payload).equals(bytes.subarray(offset + 4, offset + HEADER))) break;
    try {
      values.push(deserialize(payload));
    } catch {
      break;
    }
    offset = end;
  }
  return { values, validBytes: offset };
}

function checksum(payload: Buffer): Buffer {
  return createHash('sha256').update(payload).digest().subarray(0, 8);
}

/** The file's bytes, or an empty buffer when it does not exist. */
export function readIfExists(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  }
}

/** Writes `file` so that it is either the old or the new content after a crash: temp file, fsync, rename, fsync of the folder. */
export function writeAtomically(file: string, chunks: Iterable<Buffer>): void {
  const temp = `${file}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    for (const chunk of chunks) writeAll(fd, chunk);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  syncDir(dirname(file));
}

export function writeAll(fd: number, bytes: Buffer): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
}

/** fsync of a folder, so a rename in it is durable (not possible on every platform: then skipped). */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows cannot open a folder; its renames are durable by themselves.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
