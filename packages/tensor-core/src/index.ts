// backends: js (plain synchronous functions on Float32Array; caller passes `out`), ort, webgpu
export { type DefaultBackendOptions, registerDefaultBackends } from './backends/default-backends';
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
export { createJsBackend, type JsBackendOptions, jsKernels } from './backends/js/js-backend';
export { matmulF32, matmulF32Scalar, matmulQ8_0 } from './backends/js/matmul';
export {
  matvecF32,
  matvecF32Scalar,
  matvecQ8_0,
  matvecQ8_0Scalar,
  Q8_0_BLOCK_BYTES,
} from './backends/js/matvec';
export { layernorm, rmsnorm, softmax } from './backends/js/normalization';
export { type RopeLayout, rope } from './backends/js/rope';
// hand-assembled WebAssembly: the binary writer the SIMD kernels are written with (other packages
// assemble their own kernels with it: model-merge's bulk merge kernels)
export {
  assembleModule as assembleWasmModule,
  type FunctionDefinition as WasmFunctionDefinition,
  op as wasmOp,
  snippet as wasmSnippet,
  type ValueType as WasmValueType,
  valueType as wasmValueType,
} from './backends/js/wasm/assembler';
export {
  createSimdArena,
  SimdArena,
  type SimdArenaOptions,
  setKernelThreads,
  simdSupported,
} from './backends/js/wasm/simd-engine';
export {
  type WasmInstance,
  type WasmMemory,
  type WasmModule,
  webAssembly,
} from './backends/js/wasm/webassembly-api';
export {
  ONNX_DOUBLE,
  ONNX_FLOAT,
  ONNX_INT64,
  type OnnxGraph,
  type OnnxInitializer,
  type OnnxNode,
  type OnnxValueInfo,
  serializeOnnxModel,
} from './backends/ort/onnx-model';
export {
  createOrtBackend,
  type OrtBackend,
  type OrtBackendOptions,
  OrtError,
} from './backends/ort/ort-backend';
export {
  createWebGpuBackend,
  type WebGpuBackend,
  type WebGpuBackendOptions,
  WebGpuError,
} from './backends/webgpu/webgpu-backend';
export { byteLength, type DType, type DTypeInfo, dtypeInfo, dtypes, isDType } from './dtype';
export { DTypeError, FormatError, MeldError, ShapeMismatchError, ValidationError } from './errors';
// canonical (Hugging Face Llama) tensor names and llama.cpp's q/k permutation
export {
  type CanonicalTensorInfo,
  canonicalTensorToGguf,
  canonicalToGgufName,
  ggufCanonicalTensors,
  ggufPermutedArchitectures,
  ggufQKPermutation,
  ggufTensorToCanonical,
  ggufToCanonicalName,
  permuteQK,
  type QKPermutation,
  readGgufCanonicalTensor,
  unpermuteQK,
} from './formats/canonical-names';
// formats: GGUF and quantized blocks
export {
  GgufFile,
  type GgufHeader,
  type GgufScalar,
  type GgufTensorInfo,
  type GgufValue,
  ggufDefaultAlignment,
  ggufPlainValue,
  openGguf,
  parseGgufHeader,
} from './formats/gguf-reader';
export {
  type GgmlTypeInfo,
  type GgufScalarType,
  type GgufValueType,
  ggmlTypeForDType,
  ggmlTypeInfo,
} from './formats/gguf-types';
export {
  encodeGgmlTensor,
  type GgufTensorEntry,
  type GgufWriteInput,
  type GgufWriteOptions,
  type GgufWriteType,
  writeGguf,
} from './formats/gguf-writer';
// formats: llama2.c
export {
  halfToInterleavedRows,
  interleavedToHalfRows,
  type Llama2cCheckpoint,
  type Llama2cHeader,
  readLlama2c,
} from './formats/llama2c';
export { pythonJsonDumps } from './formats/python-json';
// formats: safetensors
export {
  isSafetensorsDType,
  type SafetensorsDType,
  safetensorsDTypeFor,
  safetensorsDTypes,
} from './formats/safetensors-dtypes';
export {
  type PlannedSafetensorsShard,
  type PlannedSafetensorsTensor,
  planSafetensorsShards,
  SafetensorsPlannedWriter,
  type SafetensorsShardPlan,
  type SafetensorsTensorSpec,
} from './formats/safetensors-planned-writer';
export {
  maxSafetensorsHeaderBytes,
  openSafetensors,
  SafetensorsFile,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
} from './formats/safetensors-reader';
export {
  openSafetensorsModel,
  planShards,
  readSafetensorsIndex,
  SafetensorsModel,
  SafetensorsShardWriter,
  type ShardedTensorInfo,
  type ShardedWriteOptions,
  type ShardedWriteResult,
  safetensorsIndexFileName,
  shardFileName,
  writeSafetensorsSharded,
} from './formats/safetensors-sharded';
export {
  type SafetensorsEntry,
  type SafetensorsInput,
  type SafetensorsWriteOptions,
  safetensorsEntry,
  writeSafetensors,
} from './formats/safetensors-writer';
export {
  bf16ToF32,
  bf16ToF32Table,
  decodeBf16,
  decodeBf16Into,
  decodeF16,
  decodeF16Into,
  encodeBf16,
  encodeBf16Into,
  encodeF16,
  encodeF16Into,
  f16ToF32,
  f16ToF32Table,
  f32ToBf16,
  f32ToF16,
} from './half';
// kernels: contracts, backend registry, running a kernel on a backend
export {
  type BackendV1,
  type KernelAttributes,
  type KernelAttributesInput,
  type KernelContract,
  type KernelImplementation,
  type KernelImplementations,
  type KernelInputs,
  type KernelName,
  type KernelOutputs,
  kernelAttributeSchemas,
  kernelContracts,
  kernelNames,
  type TokenIds,
} from './kernels/contracts';
export {
  type BackendFactory,
  type BackendFailure,
  BackendRegistry,
  BackendUnavailableError,
  defaultRegistry,
  getBackend,
  registerBackend,
} from './kernels/registry';
export { implementsKernel, parseKernelAttributes, runKernel } from './kernels/run-kernel';
// linalg: QR, SVD, norms
export { frobeniusNorm, l1Norm, l2Norm, maxNorm, spectralNorm } from './linalg/norms';
export { orthonormalize, type QRResult, qr } from './linalg/qr';
export { type SvdOptions, type SvdResult, svd, svdOptionsSchema } from './linalg/svd';
// linalg
export { kthLargest, magnitudeMask, type SelectOptions, selectTopK } from './linalg/top-k';
// PEFT LoRA adapters and the LoRA delta
export {
  applyLoraDelta,
  type LoraDeltaOptions,
  type LoraModuleWeights,
  loraDelta,
  loraDeltaShape,
  loraDimensions,
} from './lora/lora-delta';
export {
  adapterConfigFileName,
  adapterDelta,
  adapterScale,
  adapterWeightsFileName,
  applyAdapterToWeight,
  createLoraAdapter,
  type LoraAdapter,
  readPeftAdapter,
  writePeftAdapter,
} from './lora/peft-adapter';
export {
  isTargetModule,
  type LoraModuleScale,
  loraModuleScale,
  type PeftLoraConfig,
  type PeftLoraConfigInput,
  parsePeftLoraConfig,
  peftLoraConfigSchema,
} from './lora/peft-config';
export {
  type LoraKind,
  type LoraPart,
  type ParsedPeftKey,
  parsePeftKey,
  peftKey,
  peftKeyPrefix,
  stripPeftPrefix,
} from './lora/peft-keys';
export { dequantize } from './quant/dequantize';
export { decodeF8E4m3, decodeF8E5m2, f32ToF8E4m3, f32ToF8E5m2 } from './quant/f8';
export { dequantizeQ4_0, quantizeQ4_0 } from './quant/q4-0';
export { dequantizeQ4_K } from './quant/q4-k';
export { dequantizeQ6_K } from './quant/q6-k';
export { dequantizeQ8_0, quantizeQ8_0 } from './quant/q8-0';
export { Mulberry32, seededRandom } from './random';
export { Tensor, type TensorData } from './tensor';
