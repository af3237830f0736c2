/**
 * The type and dimensions of a PNG, JPEG, GIF or WebP image, read from its first bytes
 * (the header; no decoding, no image library). Dimensions are as stored: an EXIF rotation of
 * a JPEG is not applied.
 */
export interface ImageHeader {
  mimetype: 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';
  /** Width in pixels, when the bytes read reach the header that states it. */
  w?: number;
  /** Height in pixels. */
  h?: number;
}

/** How much of a file the header readers look at: enough for JPEGs with a large EXIF block ahead of the frame header. */
export const IMAGE_HEAD_BYTES = 256 * 1024;

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The image type and size stated by `head` (the file's first bytes), or undefined for anything else. */
export function imageHeader(head: Buffer): ImageHeader | undefined {
  if (head.length >= 8 && head.subarray(0, 8).equals(PNG)) {
    // The IHDR chunk comes first: length (4), "IHDR", width, height (big-endian).
    if (head.length < 24 || head.toString('latin1', 12, 16) !== 'IHDR') return { mimetype: 'image/png' };
    return sized('image/png', head.readUInt32BE(16), head.readUInt32BE(20));
  }
  const gif = head.toString('latin1', 0, 6);
  if (gif === 'GIF87a' || gif === 'GIF89a') {
    if (head.length < 10) return { mimetype: 'image/gif' };
    return sized('image/gif', head.readUInt16LE(6), head.readUInt16LE(8));
  }
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return jpeg(head);
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return webp(head);
  return undefined;
}

function sized<M extends ImageHeader['mimetype']>(mimetype: M, w: number, h: number): ImageHeader {
  return w > 0 && h > 0 ? { mimetype, w, h } : { mimetype };
}

/** The frame header (SOFn) gives the size; segments before it are skipped by their lengths. */
function jpeg(b: Buffer): ImageHeader {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return { mimetype: 'image/jpeg' }; // not a marker: corrupt, or not what we think
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    // Markers without a length: TEM, RST0-7, SOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      i += 2;
      continue;
    }
    // SOF0-SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > b.length) break;
      return sized('image/jpeg', b.readUInt16BE(i + 7), b.readUInt16BE(i + 5));
    }
    if (marker === 0xd9 || marker === 0xda) break; // end of image, or the scan: no frame header came first
    i += 2 + b.readUInt16BE(i + 2);
  }
  return { mimetype: 'image/jpeg' };
}

function webp(b: Buffer): ImageHeader {
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8X' && b.length >= 30) return sized('image/webp', 1 + b.readUIntLE(24, 3), 1 + b.readUIntLE(27, 3));
  if (chunk === 'VP8 ' && b.length >= 30 && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return sized('image/webp', b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff);
  }
  if (chunk === 'VP8L' && b.length >= 25 && b[20] === 0x2f) {
    const bits = b.readUInt32LE(21);
    return sized('image/webp', (bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  return { mimetype: 'image/webp' };
}
