// Image types and sizes from the first bytes: PNG, GIF, JPEG (frame header after other
// segments), WebP (lossy, lossless, extended); anything else or truncated: no size.
import { imageHeader } from '../../lib/media/image-info';

const png = (w: number, h: number) => {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(w, 16);
  b.writeUInt32BE(h, 20);
  return b;
};

const gif = (w: number, h: number) => {
  const b = Buffer.alloc(13);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(w, 6);
  b.writeUInt16LE(h, 8);
  return b;
};

/** SOI, an APP1 (EXIF) segment of `app` bytes, a DQT, then the frame header (SOF marker) with h and w. */
const jpeg = (w: number, h: number, sof = 0xc0, app = 100) => {
  const segment = (marker: number, body: Buffer) => {
    const head = Buffer.from([0xff, marker, 0, 0]);
    head.writeUInt16BE(body.length + 2, 2);
    return Buffer.concat([head, body]);
  };
  const frame = Buffer.alloc(15);
  frame[0] = 8;
  frame.writeUInt16BE(h, 1);
  frame.writeUInt16BE(w, 3);
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xe1, Buffer.alloc(app, 0x45)),
    Buffer.from([0xff]), // a fill byte before the next marker
    segment(0xdb, Buffer.alloc(65)),
    segment(0xc4, Buffer.alloc(30)), // DHT: in the SOF range, not a frame header
    segment(sof, frame),
  ]);
};

const riff = (chunk: string, body: Buffer) => Buffer.concat([Buffer.from('RIFF\0\0\0\0WEBP', 'latin1'), Buffer.from(chunk, 'latin1'), Buffer.alloc(4), body]);

describe('imageHeader', () => {
  it.each([
    ['PNG', png(640, 480), { mimetype: 'image/png', w: 640, h: 480 }],
    ['GIF', gif(32, 16), { mimetype: 'image/gif', w: 32, h: 16 }],
    ['JPEG (baseline, after EXIF, DQT and DHT)', jpeg(1920, 1080), { mimetype: 'image/jpeg', w: 1920, h: 1080 }],
    ['JPEG (progressive SOF2)', jpeg(100, 50, 0xc2), { mimetype: 'image/jpeg', w: 100, h: 50 }],
    ['JPEG with a 60 KiB EXIF block', jpeg(7, 9, 0xc0, 60_000), { mimetype: 'image/jpeg', w: 7, h: 9 }],
    ['WebP lossy (VP8)', riff('VP8 ', Buffer.from([0, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01])), { mimetype: 'image/webp', w: 640, h: 480 }],
    ['WebP lossless (VP8L)', riff('VP8L', Buffer.from([0x2f, 0x3f, 0xc0, 0x3b, 0x00])), { mimetype: 'image/webp', w: 64, h: 240 }],
    ['WebP extended (VP8X)', riff('VP8X', Buffer.from([0, 0, 0, 0, 0x7f, 0x07, 0, 0x37, 0x04, 0])), { mimetype: 'image/webp', w: 1920, h: 1080 }],
  ])('%s', (_kind, bytes, expected) => {
    expect(imageHeader(bytes)).toEqual(expected);
  });

  it.each([
    ['PNG', png(1, 1).subarray(0, 20), 'image/png'],
    ['PNG with a zero width', png(0, 5), 'image/png'],
    ['GIF', gif(1, 1).subarray(0, 8), 'image/gif'],
    ['JPEG', jpeg(1, 1).subarray(0, 50), 'image/jpeg'],
    ['JPEG with garbage instead of a marker', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0x12, 0x34, 0, 0]), 'image/jpeg'],
    ['JPEG whose scan starts before any frame header', Buffer.from([0xff, 0xd8, 0xff, 0xd0, 0xff, 0xda, 0, 4, 0, 0]), 'image/jpeg'],
    ['WebP of an unknown chunk', riff('ALPH', Buffer.alloc(20)), 'image/webp'],
  ])('a truncated or odd %s: the type without a size', (_kind, bytes, mimetype) => {
    expect(imageHeader(bytes)).toEqual({ mimetype });
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['text', Buffer.from('hello world, not an image')],
    ['a RIFF that is not WebP', Buffer.from('RIFF\0\0\0\0WAVEfmt ', 'latin1')],
  ])('%s: undefined', (_kind, bytes) => {
    expect(imageHeader(bytes)).toBeUndefined();
  });
});
