// IEEE half (f16) and bfloat16 <-> f32 conversions, round-to-nearest-even.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function f32ToF16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let result = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    if (rest > half || (rest === half && result & 1)) result++;
    return sign | result;
  }
  let result = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && result & 1)) result++;
  e = result >>> 10;
  return sign | result;
}

export function bf16ToF32(b: number): number {
  u32[0] = b << 16;
  return f32[0]!;
}

export function f32ToBf16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff; // quiet NaN
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

// Bulk conversions over whole chunks: integer views, no per-element calls or DataView. Inputs are
// 16-bit words (little-endian hosts, as every supported platform is); outputs are written in place.

let f16Table: Float32Array | undefined;

/** f32 value of every f16 bit pattern (built once, 256 KiB): f16 decode is one table load. */
export function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
  }
  return f16Table;
}

let bf16Table: Float32Array | undefined;

/** f32 value of every bf16 bit pattern (built once, 256 KiB): lets a fused loop decode with one table load. */
export function bf16ToF32Table(): Float32Array {
  if (!bf16Table) {
    bf16Table = new Float32Array(65536);
    const bits = new Uint32Array(bf16Table.buffer);
    for (let h = 0; h < 65536; h++) bits[h] = h << 16;
  }
  return bf16Table;
}

/** out[i] = bf16 words[i] as f32 (a 16-bit shift of the bits: exact, NaN payloads kept). */
export function decodeBf16Into(words: Uint16Array, out: Float32Array): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, words.length);
  for (let i = 0; i < bits.length; i++) bits[i] = words[i]! << 16;
  return out;
}

/** out[i] = f16 words[i] as f32 (exact, as f16ToF32). */
export function decodeF16Into(words: Uint16Array, out: Float32Array): Float32Array {
  const table = f16ToF32Table();
  for (let i = 0; i < words.length; i++) out[i] = table[words[i]!]!;
  return out;
}

/** words[i] = bf16 of values[i], round-to-nearest-even, NaN → quiet NaN (as f32ToBf16). */
export function encodeBf16Into(values: Float32Array, words: Uint16Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    words[i] =
      (x & 0x7f800000) === 0x7f800000 && x & 0x7fffff
        ? (x >>> 16) | 0x40
        : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return words;
}

/** words[i] = f16 of values[i], round-to-nearest-even, overflow → ±inf, NaN → quiet NaN (as f32ToF16). */
export function encodeF16Into(values: Float32Array, words: Uint16Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    const mantissa = x & 0x7fffff;
    const e = exponent - 112; // exponent - 127 + 15
    if (e > 0 && e < 0x1f) {
      // normal: round the 13 dropped bits to nearest even; a carry may round up into inf, as IEEE does
      const kept = (e << 10) | (mantissa >>> 13);
      const rest = mantissa & 0x1fff;
      words[i] = sign | (kept + +(rest > 0x1000 || (rest === 0x1000 && (kept & 1) === 1)));
    } else if (exponent === 0xff) words[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0);
    else if (e >= 0x1f) words[i] = sign | 0x7c00;
    else if (e < -10) words[i] = sign;
    else {
      const full = mantissa | 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      const kept = full >>> shift;
      const rest = full & ((1 << shift) - 1);
      words[i] = sign | (kept + +(rest > half || (rest === half && (kept & 1) === 1)));
    }
  }
  return words;
}

/** 16-bit words of `bytes` (a view when 2-byte aligned, else a copy). */
function wordsOf(bytes: Uint8Array, count: number): Uint16Array {
  if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  return new Uint16Array(bytes.slice(0, count * 2).buffer);
}

/** f32 output of `count` elements that is 4-byte aligned (`out` itself when it is). */
function float32Of(values: ArrayLike<number>): Float32Array {
  if (values instanceof Float32Array && values.byteOffset % 4 === 0) return values;
  return Float32Array.from(values);
}

/** Decode `count` little-endian f16 values starting at `bytes[0]`. */
export function decodeF16(
  bytes: Uint8Array,
  count: number,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  decodeF16Into(wordsOf(bytes, count), out);
  return out;
}

export function decodeBf16(
  bytes: Uint8Array,
  count: number,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  decodeBf16Into(wordsOf(bytes, count), out);
  return out;
}

/** Writes `words` into `out` (directly when `out` is 2-byte aligned). */
function encodeWords(out: Uint8Array, count: number, encode: (words: Uint16Array) => void): Uint8Array {
  if (out.byteOffset % 2 === 0) {
    encode(new Uint16Array(out.buffer, out.byteOffset, count));
    return out;
  }
  const words = new Uint16Array(count);
  encode(words);
  out.set(new Uint8Array(words.buffer), 0);
  return out;
}

export function encodeF16(
  values: ArrayLike<number>,
  out: Uint8Array = new Uint8Array(values.length * 2),
): Uint8Array {
  const floats = float32Of(values);
  return encodeWords(out, values.length, (words) => encodeF16Into(floats, words));
}

export function encodeBf16(
  values: ArrayLike<number>,
  out: Uint8Array = new Uint8Array(values.length * 2),
): Uint8Array {
  const floats = float32Of(values);
  return encodeWords(out, values.length, (words) => encodeBf16Into(floats, words));
}
