
// kernels: plain synchronous functions on Float32Array (the js backend; caller passes `out`)
export { add, gelu, mul, scale, silu, swiglu } from './backends/js/elementwise';
export {
  argmax,
  cosineSimilarity,
  cosineSimilarityRows,
  embeddingGather,
  type ReduceOperation,
  reduceRows,
  topK,
} from './backends/js/indexing';
export { matmulF32, matmulF32Scalar } from './backends/js/matmul';
export { matvecF32, matvecF32Scalar, matvecQ8_0, Q8_0_BLOCK_BYTES } from './backends/js/matvec';
export { layernorm, rmsnorm, softmax } from './backends/js/normalization';
export { type RopeLayout, rope } from './backends/js/rope';
export {
  createSimdArena,
  SimdArena,
  type SimdArenaOptions,
  setKernelThreads,
  simdSupported,
} from './backends/js/wasm/simd-engine';
// linalg
export { kthLargest, magnitudeMask, type SelectOptions, selectTopK } from './linalg/top-k';
