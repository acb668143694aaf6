// 8-bit floats as safetensors stores them (PyTorch float8_e4m3fn and float8_e5m2), decoded through
// 256-entry tables. E4M3FN: bias 7, no infinities, S.1111.111 is NaN. E5M2: bias 15, IEEE-like.
// Reference: "FP8 Formats for Deep Learning", arXiv 2209.05433, table 1.

function buildE4m3(): Float32Array {
  const table = new Float32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    const sign = byte & 0x80 ? -1 : 1;
    const exponent = (byte >> 3) & 0xf;
    const mantissa = byte & 0x7;
    if (exponent === 0xf && mantissa === 0x7) table[byte] = Number.NaN;
    else if (exponent === 0) table[byte] = sign * (mantissa / 8) * 2 ** -6;
    else table[byte] = sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
  }
  return table;
}

function buildE5m2(): Float32Array {
  const table = new Float32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    const sign = byte & 0x80 ? -1 : 1;
    const exponent = (byte >> 2) & 0x1f;
    const mantissa = byte & 0x3;
    if (exponent === 0x1f) table[byte] = mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else if (exponent === 0) table[byte] = sign * (mantissa / 4) * 2 ** -14;
    else table[byte] = sign * (1 + mantissa / 4) * 2 ** (exponent - 15);
  }
  return table;
}

const e4m3Table = buildE4m3();
const e5m2Table = buildE5m2();

export function decodeF8E4m3(
  bytes: Uint8Array,
  count: number,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  for (let i = 0; i < count; i++) out[i] = e4m3Table[bytes[i]!]!;
  return out;
}

export function decodeF8E5m2(
  bytes: Uint8Array,
  count: number,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  for (let i = 0; i < count; i++) out[i] = e5m2Table[bytes[i]!]!;
  return out;
}

/** Nearest E4M3FN byte (ties to even code), saturating to ±448. NaN maps to 0x7f. */
export function f32ToF8E4m3(value: number): number {
  return nearestCode(e4m3Table, value, 0x7e);
}

/** Nearest E5M2 byte (ties to even code); beyond ±57344 rounds to infinity like IEEE. */
export function f32ToF8E5m2(value: number): number {
  if (Math.abs(value) >= 61440) return value > 0 ? 0x7c : 0xfc;
  return nearestCode(e5m2Table, value, 0x7b);
}

function nearestCode(table: Float32Array, value: number, maxCode: number): number {
  if (Number.isNaN(value)) return 0x7f;
  const sign = value < 0 || Object.is(value, -0) ? 0x80 : 0;
  const magnitude = Math.abs(value);
  // Positive codes 0..maxCode are increasing in value: binary search for the nearest.
  let low = 0;
  let high = maxCode;
  if (magnitude >= table[maxCode]!) return sign | maxCode;
  while (high - low > 1) {
    const mid = (low + high) >> 1;
    if (table[mid]! <= magnitude) low = mid;
    else high = mid;
  }
  const below = magnitude - table[low]!;
  const above = table[high]! - magnitude;
  const code = below < above ? low : above < below ? high : low % 2 === 0 ? low : high;
  return sign | code;
}
