// Test helpers: seeded data and float64 reference building blocks (used only by tests).
export function seededData(seed: number, length: number, scale = 1): Float32Array {
  let state = seed >>> 0 || 1;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const u1 = (state + 1) / 4294967297;
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const u2 = state / 4294967296;
    out[i] = scale * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

export const toF64 = (x: ArrayLike<number>): number[] => Array.from(x);
export const sub = (a: number[], b: number[]): number[] => a.map((v, i) => v - b[i]!);
export const add = (a: number[], b: number[]): number[] => a.map((v, i) => v + b[i]!);
export const scale = (a: number[], s: number): number[] => a.map((v) => v * s);
export const dot = (a: number[], b: number[]): number => a.reduce((sum, v, i) => sum + v * b[i]!, 0);
export const norm = (a: number[]): number => Math.sqrt(dot(a, a));
export const zeros = (n: number): number[] => new Array<number>(n).fill(0);

/** Indices ordered by |x| descending, ties by index ascending (a full sort, the reference for selection). */
export function descendingMagnitudeOrder(a: number[]): number[] {
  return a.map((_, i) => i).sort((i, j) => Math.abs(a[j]!) - Math.abs(a[i]!) || i - j);
}
