// WGSL kernels of the webgpu backend. Each reads its sizes from a uniform `Params` block.
// Rows beyond 65535 workgroups wrap into the y dimension of the dispatch (row = id.x + id.y * count.x).

const bindings = (inputs: number) =>
  [
    ...Array.from(
      { length: inputs },
      (_, i) => `@group(0) @binding(${i}) var<storage, read> input${i}: array<f32>;`,
    ),
    `@group(0) @binding(${inputs}) var<storage, read_write> output: array<f32>;`,
    `@group(0) @binding(${inputs + 1}) var<uniform> params: Params;`,
  ].join('\n');

/** Tiled 16x16 matmul, batch on z; transposeB reads b as [n, k]. A 2-D b has bBatchStride 0. */
export const matmulShader = `
struct Params { m: u32, n: u32, k: u32, transposeB: u32, aBatchStride: u32, bBatchStride: u32, outBatchStride: u32, unused: u32 }
${bindings(2)}
var<workgroup> tileA: array<array<f32, 16>, 16>;
var<workgroup> tileB: array<array<f32, 16>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(workgroup_id) group: vec3<u32>) {
  let row = group.y * 16u + local.y;
  let col = group.x * 16u + local.x;
  let aBase = group.z * params.aBatchStride;
  let bBase = group.z * params.bBatchStride;
  var sum = 0.0;
  let tiles = (params.k + 15u) / 16u;
  for (var t = 0u; t < tiles; t++) {
    let aCol = t * 16u + local.x;
    var aValue = 0.0;
    if (row < params.m && aCol < params.k) { aValue = input0[aBase + row * params.k + aCol]; }
    tileA[local.y][local.x] = aValue;
    let bRow = t * 16u + local.y;
    var bValue = 0.0;
    if (bRow < params.k && col < params.n) {
      if (params.transposeB == 1u) { bValue = input1[bBase + col * params.k + bRow]; }
      else { bValue = input1[bBase + bRow * params.n + col]; }
    }
    tileB[local.y][local.x] = bValue;
    workgroupBarrier();
    for (var i = 0u; i < 16u; i++) { sum += tileA[local.y][i] * tileB[i][local.x]; }
    workgroupBarrier();
  }
  if (row < params.m && col < params.n) { output[group.z * params.outBatchStride + row * params.n + col] = sum; }
}`;

const reduceTree = (name: string, combine: string) => `
  ${name}[local.x] = value;
  workgroupBarrier();
  for (var stride = 32u; stride > 0u; stride >>= 1u) {
    if (local.x < stride) { ${name}[local.x] = ${combine}; }
    workgroupBarrier();
  }`;

/** One 64-thread workgroup per row: strided dot product, then a tree reduction. */
export const matvecShader = `
struct Params { rows: u32, cols: u32, unused0: u32, unused1: u32 }
${bindings(2)}
var<workgroup> partial: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) count: vec3<u32>) {
  let row = group.x + group.y * count.x;
  if (row >= params.rows) { return; }
  var value = 0.0;
  for (var c = local.x; c < params.cols; c += 64u) { value += input0[row * params.cols + c] * input1[c]; }
  ${reduceTree('partial', 'partial[local.x] + partial[local.x + stride]')}
  if (local.x == 0u) { output[row] = partial[0]; }
}`;

export const ELEMENTWISE_ADD = 0;
export const ELEMENTWISE_MUL = 1;
export const ELEMENTWISE_SCALE = 2;
export const ELEMENTWISE_SILU = 3;
export const ELEMENTWISE_GELU_TANH = 4;

/** add / mul (b broadcast by index modulo its length), scale, silu, gelu (tanh). */
export const elementwiseShader = `
struct Params { length: u32, bLength: u32, operation: u32, factor: f32 }
${bindings(2)}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) count: vec3<u32>) {
  let i = id.x + id.y * count.x * 256u;
  if (i >= params.length) { return; }
  let x = input0[i];
  var y = 0.0;
  switch params.operation {
    case 0u: { y = x + input1[i % params.bLength]; }
    case 1u: { y = x * input1[i % params.bLength]; }
    case 2u: { y = x * params.factor; }
    case 3u: { y = x / (1.0 + exp(-x)); if (x < -80.0) { y = 0.0; } }
    default: { y = 0.5 * x * (1.0 + tanh(clamp(0.7978845608 * (x + 0.044715 * x * x * x), -20.0, 20.0))); }
  }
  output[i] = y;
}`;

/** One workgroup per row: max, sum of exp(x - max), normalize. */
export const softmaxShader = `
struct Params { rows: u32, size: u32, unused0: u32, unused1: u32 }
${bindings(1)}
var<workgroup> partial: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) count: vec3<u32>) {
  let row = group.x + group.y * count.x;
  if (row >= params.rows) { return; }
  let base = row * params.size;
  var value = -3.402823e38;
  for (var c = local.x; c < params.size; c += 64u) { value = max(value, input0[base + c]); }
  ${reduceTree('partial', 'max(partial[local.x], partial[local.x + stride])')}
  let rowMax = partial[0];
  workgroupBarrier();
  value = 0.0;
  for (var c = local.x; c < params.size; c += 64u) { value += exp(input0[base + c] - rowMax); }
  ${reduceTree('partial', 'partial[local.x] + partial[local.x + stride]')}
  let inverse = 1.0 / partial[0];
  for (var c = local.x; c < params.size; c += 64u) { output[base + c] = exp(input0[base + c] - rowMax) * inverse; }
}`;

/**
 * One workgroup per row: x / sqrt(mean(x^2) + epsilon) * weight. Squares are taken of x / max|x| so that
 * activations of 1e20 do not overflow f32 (as the js and ort backends, which accumulate in float64).
 */
export const rmsnormShader = `
struct Params { rows: u32, size: u32, epsilon: f32, unused: u32 }
${bindings(2)}
var<workgroup> partial: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) count: vec3<u32>) {
  let row = group.x + group.y * count.x;
  if (row >= params.rows) { return; }
  let base = row * params.size;
  var value = 0.0;
  for (var c = local.x; c < params.size; c += 64u) { value = max(value, abs(input0[base + c])); }
  ${reduceTree('partial', 'max(partial[local.x], partial[local.x + stride])')}
  var scale = partial[0];
  if (scale == 0.0) { scale = 1.0; }
  workgroupBarrier();
  value = 0.0;
  for (var c = local.x; c < params.size; c += 64u) { let v = input0[base + c] / scale; value += v * v; }
  ${reduceTree('partial', 'partial[local.x] + partial[local.x + stride]')}
  let meanSquare = partial[0] / f32(params.size);
  let epsilonScaled = params.epsilon / (scale * scale);
  let inverse = inverseSqrt(meanSquare + epsilonScaled) / scale;
  for (var c = local.x; c < params.size; c += 64u) { output[base + c] = input0[base + c] * inverse * input1[c]; }
}`;
