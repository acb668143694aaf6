// The merge kernels in plain JS over typed arrays: the readable specification of kernels-module.ts (same
// names, same argument order with typed arrays for pointers; a kernel that stores its answer at a `result`
// pointer returns it here instead) and the fallback where WebAssembly SIMD is missing. All arithmetic is
// f32: every operation's result is rounded with Math.fround and f32 parameters are rounded once on entry,
// so the WebAssembly f32x4 operations give the same bits (NaN payloads aside: both give a NaN there).

const f = Math.fround;

/** |divisor| below this divides by 1 instead (consensus2). */
export const CONSENSUS_EPSILON_F32 = f(1e-8);

function bitsOf(values: Float32Array, n: number): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, n);
}

const wordBits = new Uint32Array(1);
const wordValue = new Float32Array(wordBits.buffer);

/** The f32 a bf16 word decodes to (bits word << 16). */
export function bf16Value(word: number): number {
  wordBits[0] = word << 16;
  return wordValue[0]!;
}

export function decodeBf16(dst: Float32Array, src: Uint16Array, n: number): void {
  const bits = bitsOf(dst, n);
  for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
}

export function scaleBf16(dst: Float32Array, src: Uint16Array, n: number, c: number): void {
  c = f(c);
  for (let i = 0; i < n; i++) dst[i] = f(f(c * bf16Value(src[i]!)) + 0);
}

export function axpyBf16(dst: Float32Array, src: Uint16Array, n: number, c: number): void {
  c = f(c);
  for (let i = 0; i < n; i++) dst[i] = f(dst[i]! + f(c * bf16Value(src[i]!)));
}

export function scaleF32(dst: Float32Array, src: Float32Array, n: number, c: number): void {
  c = f(c);
  for (let i = 0; i < n; i++) dst[i] = f(f(c * src[i]!) + 0);
}

export function axpyF32(dst: Float32Array, src: Float32Array, n: number, c: number): void {
  c = f(c);
  for (let i = 0; i < n; i++) dst[i] = f(dst[i]! + f(c * src[i]!));
}

export function subBf16(dst: Float32Array, src: Uint16Array, base: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = f(bf16Value(src[i]!) - base[i]!);
}

export function subF32(dst: Float32Array, src: Float32Array, base: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = f(src[i]! - base[i]!);
}

/** tensor-core's encodeBf16Into: NaN → (bits >>> 16) | 0x40, else round to nearest even (may carry to inf). */
export function encodeBf16(dst: Uint16Array, src: Float32Array, n: number): void {
  const bits = bitsOf(src, n);
  for (let i = 0; i < n; i++) {
    const x = bits[i]!;
    dst[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
}

/** hist (32768 counters)[(bits & 0x7fffffff) >>> 16] += 1. */
export function histHigh(hist: Uint32Array, src: Float32Array, n: number): void {
  const bits = bitsOf(src, n);
  for (let i = 0; i < n; i++) hist[(bits[i]! & 0x7fffffff) >>> 16]!++;
}

/**
 * histHigh into 4 sub-histograms of 32768 counters: hist[32768 · (i mod 4) + ((bits & 0x7fffffff) >>> 16)]
 * += 1, i counted from src; a bin's count is the sum of its four counters (histHighFold adds them up).
 */
export function histHighSplit(hist: Uint32Array, src: Float32Array, n: number): void {
  const bits = bitsOf(src, n);
  for (let i = 0; i < n; i++) hist[((i & 3) << 15) + ((bits[i]! & 0x7fffffff) >>> 16)]!++;
}

/** histHighSplit's four sub-histograms summed into the first (u32, wrapping), the other three zeroed. */
export function histHighFold(hist: Uint32Array): void {
  for (let b = 0; b < 32768; b++) {
    hist[b] = hist[b]! + hist[b + 32768]! + hist[b + 65536]! + hist[b + 98304]!;
    hist[b + 32768] = hist[b + 65536] = hist[b + 98304] = 0;
  }
}

/** hist (65536 counters)[bits & 0xffff] += 1 for the elements of high bucket `bucket`. */
export function histLow(hist: Uint32Array, src: Float32Array, n: number, bucket: number): void {
  const bits = bitsOf(src, n);
  bucket |= 0;
  for (let i = 0; i < n; i++) {
    const x = bits[i]!;
    if ((x & 0x7fffffff) >>> 16 === bucket) hist[x & 0xffff]!++;
  }
}

/**
 * hist (bucketCount · 65536 counters)[(b − bucketLow) · 65536 + (bits & 0xffff)] += 1 for the elements whose
 * high bucket b = (bits & 0x7fffffff) >>> 16 lies in [bucketLow, bucketLow + bucketCount).
 */
export function histLowRange(
  hist: Uint32Array,
  src: Float32Array,
  n: number,
  bucketLow: number,
  bucketCount: number,
): void {
  const bits = bitsOf(src, n);
  [bucketLow, bucketCount] = [bucketLow | 0, bucketCount | 0];
  for (let i = 0; i < n; i++) {
    const x = bits[i]!;
    const b = (x & 0x7fffffff) >>> 16;
    if (b >= bucketLow && b < bucketLow + bucketCount) hist[(b - bucketLow) * 65536 + (x & 0xffff)]!++;
  }
}

/**
 * histLowRange into the first c · 65536 counters, c = max(bucketCount, 0), and hist[c · 65536] += the number
 * of elements with b ≥ bucketLow + c (exact integers; NaN bits rank above +inf): hist holds c · 65536 + 1
 * counters.
 */
export function histLowRangeAbove(
  hist: Uint32Array,
  src: Float32Array,
  n: number,
  bucketLow: number,
  bucketCount: number,
): void {
  const bits = bitsOf(src, n);
  bucketLow |= 0;
  const count = Math.max(bucketCount | 0, 0);
  const limit = bucketLow + count;
  let above = 0;
  for (let i = 0; i < n; i++) {
    const x = bits[i]!;
    const b = (x & 0x7fffffff) >>> 16;
    if (b >= limit) above++;
    else if (b >= bucketLow) hist[(b - bucketLow) * 65536 + (x & 0xffff)]!++;
  }
  hist[count * 65536] = hist[count * 65536]! + above;
}

/** How many |src[i]| equal last. */
export function countEqualMagnitude(src: Float32Array, n: number, last: number): number {
  last = f(last);
  let count = 0;
  for (let i = 0; i < n; i++) count += +(Math.abs(src[i]!) === last);
  return count;
}

/**
 * In place, in element order: kept = |v| > last, or |v| = last while seen < quota (every tie increments
 * seen after the test; seen and quota are i32 and seen wraps as an i32); values[i] = kept · (v · factor)
 * (so a dropped negative becomes −0). Returns the final seen.
 */
export function applyTopK(
  values: Float32Array,
  n: number,
  last: number,
  quota: number,
  seen: number,
  factor: number,
): number {
  last = f(last);
  factor = f(factor);
  quota |= 0;
  seen |= 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const a = Math.abs(v);
    const tie = +(a === last);
    const kept = +(a > last) | (tie & +(seen < quota));
    seen = (seen + tie) | 0;
    values[i] = f(kept * f(v * factor));
  }
  return seen;
}

/**
 * TIES sign consensus of two task vectors x, y over base b, all in f32: vx = x·fx, vy = y·fy; the elected
 * sign is + when vx + vy ≥ 0, else −; mx = 1 when sign(vx) is the elected sign (0 and NaN never agree), my
 * likewise; mixed = mx·(wx·x) + my·(wy·y), divided (when normalize) by the divisor mx·dx + my·dy or by 1
 * when |divisor| < 1e-8; out = b + λ·mixed. (task-arithmetic.ts's consensusKernel for two models, in f32.)
 */
export function consensus2(
  out: Float32Array,
  b: Float32Array,
  x: Float32Array,
  y: Float32Array,
  n: number,
  fx: number,
  fy: number,
  wx: number,
  wy: number,
  dx: number,
  dy: number,
  normalize: number | boolean,
  lambda: number,
): void {
  [fx, fy, wx, wy, dx, dy, lambda] = [f(fx), f(fy), f(wx), f(wy), f(dx), f(dy), f(lambda)];
  const normalized = (Number(normalize) | 0) !== 0;
  for (let i = 0; i < n; i++) {
    const tx = x[i]!;
    const ty = y[i]!;
    const vx = f(tx * fx);
    const vy = f(ty * fy);
    const positive = f(vx + vy) >= 0;
    const mx = +(positive ? vx > 0 : vx < 0);
    const my = +(positive ? vy > 0 : vy < 0);
    let mixed = f(f(mx * f(wx * tx)) + f(my * f(wy * ty)));
    if (normalized) {
      const divisor = f(f(mx * dx) + f(my * dy));
      mixed = f(mixed / (Math.abs(divisor) < CONSENSUS_EPSILON_F32 ? 1 : divisor));
    }
    out[i] = f(b[i]! + f(lambda * mixed));
  }
}
