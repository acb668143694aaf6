// Householder QR in float64: A (rows x cols, row-major) = Q R with Q rows x p orthonormal columns and R p x cols
// upper triangular, p = min(rows, cols) (the reduced / economy factorization). R's diagonal may be negative.

export interface QRResult {
  /** rows x p, row-major, orthonormal columns. */
  q: Float64Array;
  /** p x cols, row-major, upper triangular. */
  r: Float64Array;
  rank: number;
}

export function qr(a: ArrayLike<number>, rows: number, cols: number): QRResult {
  const p = Math.min(rows, cols);
  const work = Float64Array.from({ length: rows * cols }, (_, i) => a[i]);
  const reflectors: Float64Array[] = [];
  for (let j = 0; j < p; j++) {
    let norm = 0;
    for (let i = j; i < rows; i++) norm += work[i * cols + j] ** 2;
    norm = Math.sqrt(norm);
    const v = new Float64Array(rows - j);
    if (norm === 0) {
      reflectors.push(v);
      continue;
    }
    const x0 = work[j * cols + j];
    const alpha = x0 >= 0 ? -norm : norm;
    for (let i = j; i < rows; i++) v[i - j] = work[i * cols + j];
    v[0] -= alpha;
    let vNorm = 0;
    for (let i = 0; i < v.length; i++) vNorm += v[i] * v[i];
    vNorm = Math.sqrt(vNorm);
    if (vNorm === 0) {
      reflectors.push(new Float64Array(rows - j));
      continue;
    }
    for (let i = 0; i < v.length; i++) v[i] /= vNorm;
    reflectors.push(v);
    // apply H = I - 2 v v^T to columns j..cols-1 of work
    for (let c = j; c < cols; c++) {
      let dot = 0;
      for (let i = j; i < rows; i++) dot += v[i - j] * work[i * cols + c];
      dot *= 2;
      for (let i = j; i < rows; i++) work[i * cols + c] -= dot * v[i - j];
    }
  }
  const r = new Float64Array(p * cols);
  for (let i = 0; i < p; i++) for (let c = i; c < cols; c++) r[i * cols + c] = work[i * cols + c];
  // Q = H_0 H_1 ... H_{p-1} applied to the first p columns of the identity
  const q = new Float64Array(rows * p);
  for (let i = 0; i < p; i++) q[i * p + i] = 1;
  for (let j = p - 1; j >= 0; j--) {
    const v = reflectors[j];
    for (let c = 0; c < p; c++) {
      let dot = 0;
      for (let i = j; i < rows; i++) dot += v[i - j] * q[i * p + c];
      if (dot === 0) continue;
      dot *= 2;
      for (let i = j; i < rows; i++) q[i * p + c] -= dot * v[i - j];
    }
  }
  let rank = 0;
  const scale = Math.max(1e-300, ...Array.from({ length: p }, (_, i) => Math.abs(r[i * cols + i])));
  for (let i = 0; i < p; i++) if (Math.abs(r[i * cols + i]) > scale * 1e-12 * Math.max(rows, cols)) rank++;
  return { q, r, rank };
}

/** An orthonormal basis of A's column space (Q of the reduced QR), rows x min(rows, cols). */
export function orthonormalize(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  return qr(a, rows, cols).q;
}
