export interface AllCloseOptions {
  /** Relative tolerance (numpy's rtol). Default 1e-5. */
  rtol?: number;
  /** Absolute tolerance (numpy's atol). Default 1e-8. */
  atol?: number;
  /** Treat NaN == NaN as equal. Default true. */
  equalNaN?: boolean;
}

export interface AllCloseResult {
  pass: boolean;
  index: number;
  actual: number;
  expected: number;
  maxAbsError: number;
}

type NumericArray = ArrayLike<number>;

/** numpy.allclose semantics: |a - e| <= atol + rtol * |e|, elementwise; lengths must match. */
export function allClose(
  actual: NumericArray,
  expected: NumericArray,
  options: AllCloseOptions = {},
): AllCloseResult {
  const rtol = options.rtol ?? 1e-5;
  const atol = options.atol ?? 1e-8;
  const equalNaN = options.equalNaN ?? true;
  let maxAbsError = 0;
  if (actual.length !== expected.length) {
    return {
      pass: false,
      index: -1,
      actual: actual.length,
      expected: expected.length,
      maxAbsError: Number.NaN,
    };
  }
  let firstBad = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (equalNaN && Number.isNaN(a) && Number.isNaN(e)) continue;
      if (firstBad < 0) firstBad = i;
      continue;
    }
    if (a === e) continue; // covers equal infinities
    const diff = Math.abs(a - e);
    if (diff > maxAbsError) maxAbsError = diff;
    if (!(diff <= atol + rtol * Math.abs(e)) && firstBad < 0) firstBad = i;
  }
  return {
    pass: firstBad < 0,
    index: firstBad,
    actual: firstBad >= 0 ? actual[firstBad]! : 0,
    expected: firstBad >= 0 ? expected[firstBad]! : 0,
    maxAbsError,
  };
}
