// ONNX models written by hand (field numbers from onnx/onnx.proto, IR version 8, default opset 17).
// Small graphs (one MatMul, a Softmax, ...) are built per shape and cached as sessions by the ort backend.
import { ProtobufWriter } from './protobuf-writer';

export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;
export const ONNX_DOUBLE = 11;

export interface OnnxValueInfo {
  name: string;
  elementType: number;
  /** Fixed sizes, or a string for a symbolic dimension. */
  shape: readonly (number | string)[];
}

export type OnnxAttributeValue = number | readonly number[] | string | { float: number };

export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Record<string, OnnxAttributeValue>;
  domain?: string;
}

export interface OnnxInitializer {
  name: string;
  dims: readonly number[];
  /** float32 (ONNX_FLOAT), float64 (ONNX_DOUBLE) or int64 (ONNX_INT64), given as numbers. */
  elementType: number;
  values: Float32Array | readonly number[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  initializers?: readonly OnnxInitializer[];
  opset?: number;
}

// AttributeProto.AttributeType
const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_STRING = 3;
const ATTRIBUTE_INTS = 7;

function writeValueInfo(writer: ProtobufWriter, info: OnnxValueInfo): void {
  writer.string(1, info.name);
  writer.message(2, (type) =>
    type.message(1, (tensorType) => {
      tensorType.int(1, info.elementType);
      tensorType.message(2, (shape) => {
        for (const dim of info.shape) {
          shape.message(1, (dimension) => {
            if (typeof dim === 'number') dimension.int(1, dim);
            else dimension.string(2, dim);
          });
        }
      });
    }),
  );
}

function writeAttribute(writer: ProtobufWriter, name: string, value: OnnxAttributeValue): void {
  writer.string(1, name);
  if (typeof value === 'string') writer.bytes(4, new TextEncoder().encode(value)).int(20, ATTRIBUTE_STRING);
  else if (typeof value === 'number') writer.int(3, value).int(20, ATTRIBUTE_INT);
  else if ('float' in value) writer.float(2, value.float).int(20, ATTRIBUTE_FLOAT);
  else {
    for (const item of value) writer.int(8, item);
    writer.int(20, ATTRIBUTE_INTS);
  }
}

function writeInitializer(writer: ProtobufWriter, tensor: OnnxInitializer): void {
  for (const dim of tensor.dims) writer.int(1, dim);
  writer.int(2, tensor.elementType);
  writer.string(8, tensor.name);
  if (tensor.elementType === ONNX_FLOAT) {
    const values = tensor.values instanceof Float32Array ? tensor.values : Float32Array.from(tensor.values);
    writer.bytes(9, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  } else if (tensor.elementType === ONNX_DOUBLE) {
    const values = Float64Array.from(tensor.values);
    writer.bytes(9, new Uint8Array(values.buffer));
  } else {
    const raw = new BigInt64Array(tensor.values.length);
    for (let i = 0; i < raw.length; i++) raw[i] = BigInt(tensor.values[i]);
    writer.bytes(9, new Uint8Array(raw.buffer));
  }
}

/** Serializes a ModelProto holding `graph`. */
export function serializeOnnxModel(graph: OnnxGraph): Uint8Array {
  const model = new ProtobufWriter();
  model.int(1, 8); // ir_version
  model.string(2, '@meld/tensor-core');
  model.message(7, (g) => {
    graph.nodes.forEach((node, index) => {
      g.message(1, (n) => {
        for (const input of node.inputs) n.string(1, input);
        for (const output of node.outputs) n.string(2, output);
        n.string(3, `${node.opType.toLowerCase()}_${index}`);
        n.string(4, node.opType);
        for (const [name, value] of Object.entries(node.attributes ?? {})) {
          n.message(5, (attribute) => writeAttribute(attribute, name, value));
        }
        if (node.domain !== undefined) n.string(7, node.domain);
      });
    });
    g.string(2, graph.name);
    for (const initializer of graph.initializers ?? []) g.message(5, (t) => writeInitializer(t, initializer));
    for (const input of graph.inputs) g.message(11, (v) => writeValueInfo(v, input));
    for (const output of graph.outputs) g.message(12, (v) => writeValueInfo(v, output));
  });
  model.message(8, (opset) => opset.string(1, '').int(2, graph.opset ?? 17));
  return model.finish();
}
