// One small ONNX graph per kernel, built for fixed shapes (the ort backend caches a session per shape).
import {
  ONNX_DOUBLE,
  ONNX_FLOAT,
  ONNX_INT64,
  type OnnxGraph,
  type OnnxNode,
  type OnnxValueInfo,
} from './onnx-model';

const float = (name: string, shape: readonly number[]): OnnxValueInfo => ({
  name,
  elementType: ONNX_FLOAT,
  shape,
});

function unary(
  name: string,
  shape: readonly number[],
  nodes: OnnxNode[],
  initializers: OnnxGraph['initializers'] = [],
): OnnxGraph {
  return { name, nodes, inputs: [float('x', shape)], outputs: [float('y', shape)], initializers };
}

const scalar = (name: string, value: number) => ({
  name,
  dims: [],
  elementType: ONNX_FLOAT,
  values: [value],
});

export function matmulGraph(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeB: boolean,
  outShape: readonly number[],
): OnnxGraph {
  const nodes: OnnxNode[] = [];
  let b = 'b';
  if (transposeB) {
    const rank = bShape.length;
    const perm = [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
    nodes.push({ opType: 'Transpose', inputs: ['b'], outputs: ['bt'], attributes: { perm } });
    b = 'bt';
  }
  nodes.push({ opType: 'MatMul', inputs: ['a', b], outputs: ['y'] });
  return {
    name: 'matmul',
    nodes,
    inputs: [float('a', aShape), float('b', bShape)],
    outputs: [float('y', outShape)],
  };
}

/** weight [rows, cols] x x [cols]: Gemm with transB on x as a [1, cols] row. */
export function matvecGraph(rows: number, cols: number): OnnxGraph {
  return {
    name: 'matvec',
    nodes: [{ opType: 'Gemm', inputs: ['x', 'weight'], outputs: ['y'], attributes: { transB: 1 } }],
    inputs: [float('weight', [rows, cols]), float('x', [1, cols])],
    outputs: [float('y', [1, rows])],
  };
}

export function binaryGraph(
  opType: 'Add' | 'Mul',
  aShape: readonly number[],
  bShape: readonly number[],
): OnnxGraph {
  return {
    name: opType.toLowerCase(),
    nodes: [{ opType, inputs: ['a', 'b'], outputs: ['y'] }],
    inputs: [float('a', aShape), float('b', bShape)],
    outputs: [float('y', aShape)],
  };
}

export function scaleGraph(shape: readonly number[], factor: number): OnnxGraph {
  return unary(
    'scale',
    shape,
    [{ opType: 'Mul', inputs: ['x', 'factor'], outputs: ['y'] }],
    [scalar('factor', factor)],
  );
}

export function softmaxGraph(shape: readonly number[]): OnnxGraph {
  return unary('softmax', shape, [
    { opType: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: { axis: -1 } },
  ]);
}

export function siluGraph(shape: readonly number[]): OnnxGraph {
  return unary('silu', shape, [
    { opType: 'Sigmoid', inputs: ['x'], outputs: ['s'] },
    { opType: 'Mul', inputs: ['x', 's'], outputs: ['y'] },
  ]);
}

export function geluGraph(shape: readonly number[], approximate: 'tanh' | 'none'): OnnxGraph {
  if (approximate === 'none') {
    return unary(
      'gelu',
      shape,
      [
        { opType: 'Mul', inputs: ['x', 'inverseSqrt2'], outputs: ['scaled'] },
        { opType: 'Erf', inputs: ['scaled'], outputs: ['erf'] },
        { opType: 'Add', inputs: ['erf', 'one'], outputs: ['onePlus'] },
        { opType: 'Mul', inputs: ['x', 'onePlus'], outputs: ['product'] },
        { opType: 'Mul', inputs: ['product', 'half'], outputs: ['y'] },
      ],
      [scalar('inverseSqrt2', Math.SQRT1_2), scalar('one', 1), scalar('half', 0.5)],
    );
  }
  return unary(
    'gelu',
    shape,
    [
      { opType: 'Mul', inputs: ['x', 'x'], outputs: ['x2'] },
      { opType: 'Mul', inputs: ['x2', 'x'], outputs: ['x3'] },
      { opType: 'Mul', inputs: ['x3', 'c'], outputs: ['cx3'] },
      { opType: 'Add', inputs: ['x', 'cx3'], outputs: ['inner'] },
      { opType: 'Mul', inputs: ['inner', 'k'], outputs: ['scaled'] },
      { opType: 'Tanh', inputs: ['scaled'], outputs: ['tanh'] },
      { opType: 'Add', inputs: ['tanh', 'one'], outputs: ['onePlus'] },
      { opType: 'Mul', inputs: ['x', 'onePlus'], outputs: ['product'] },
      { opType: 'Mul', inputs: ['product', 'half'], outputs: ['y'] },
    ],
    [scalar('c', 0.044715), scalar('k', Math.sqrt(2 / Math.PI)), scalar('one', 1), scalar('half', 0.5)],
  );
}

export function layernormGraph(shape: readonly number[], hasBias: boolean, epsilon: number): OnnxGraph {
  const size = shape[shape.length - 1];
  return {
    name: 'layernorm',
    nodes: [
      {
        opType: 'LayerNormalization',
        inputs: hasBias ? ['x', 'weight', 'bias'] : ['x', 'weight'],
        outputs: ['y'],
        attributes: { axis: -1, epsilon: { float: epsilon } },
      },
    ],
    inputs: [float('x', shape), float('weight', [size]), ...(hasBias ? [float('bias', [size])] : [])],
    outputs: [float('y', shape)],
  };
}

/** In float64 inside (Cast), so squares of large activations (1e20) neither overflow nor lose precision. */
export function rmsnormGraph(shape: readonly number[], epsilon: number): OnnxGraph {
  const size = shape[shape.length - 1];
  return {
    name: 'rmsnorm',
    nodes: [
      { opType: 'Cast', inputs: ['x'], outputs: ['x64'], attributes: { to: ONNX_DOUBLE } },
      { opType: 'Mul', inputs: ['x64', 'x64'], outputs: ['squares'] },
      {
        opType: 'ReduceMean',
        inputs: ['squares'],
        outputs: ['meanSquare'],
        attributes: { axes: [-1], keepdims: 1 },
      },
      { opType: 'Add', inputs: ['meanSquare', 'epsilon'], outputs: ['shifted'] },
      { opType: 'Sqrt', inputs: ['shifted'], outputs: ['rms'] },
      { opType: 'Div', inputs: ['x64', 'rms'], outputs: ['normalized64'] },
      { opType: 'Cast', inputs: ['normalized64'], outputs: ['normalized'], attributes: { to: ONNX_FLOAT } },
      { opType: 'Mul', inputs: ['normalized', 'weight'], outputs: ['y'] },
    ],
    inputs: [float('x', shape), float('weight', [size])],
    outputs: [float('y', shape)],
    initializers: [{ name: 'epsilon', dims: [], elementType: ONNX_DOUBLE, values: [epsilon] }],
  };
}

export function argmaxGraph(shape: readonly number[]): OnnxGraph {
  return {
    name: 'argmax',
    nodes: [{ opType: 'ArgMax', inputs: ['x'], outputs: ['y'], attributes: { axis: -1, keepdims: 0 } }],
    inputs: [float('x', shape)],
    outputs: [{ name: 'y', elementType: ONNX_INT64, shape: shape.slice(0, -1) }],
  };
}

export function reduceGraph(shape: readonly number[], operation: 'sum' | 'mean' | 'max' | 'min'): OnnxGraph {
  const outShape = shape.slice(0, -1);
  if (operation === 'sum') {
    return {
      name: 'reduce',
      nodes: [{ opType: 'ReduceSum', inputs: ['x', 'axes'], outputs: ['y'], attributes: { keepdims: 0 } }],
      inputs: [float('x', shape)],
      outputs: [float('y', outShape)],
      initializers: [{ name: 'axes', dims: [1], elementType: ONNX_INT64, values: [-1] }],
    };
  }
  const opType = operation === 'mean' ? 'ReduceMean' : operation === 'max' ? 'ReduceMax' : 'ReduceMin';
  return {
    name: 'reduce',
    nodes: [{ opType, inputs: ['x'], outputs: ['y'], attributes: { axes: [-1], keepdims: 0 } }],
    inputs: [float('x', shape)],
    outputs: [float('y', outShape)],
  };
}
