/**
 * Writes the two demo models as ONNX (IR version 8, default opset 13, ai.onnx.ml opset 3) with
 * the protobufjs-generated classes of onnx-proto. Encoding is a pure function of the model, so
 * the same training run gives byte-identical files.
 */
import onnxProto from 'onnx-proto';
import type { BoostedTrees, TreeNode } from './gbt.js';
import type { LogisticModel } from './logreg.js';

const { onnx } = onnxProto;
type Attribute = InstanceType<typeof onnx.AttributeProto>;
type Node = ReturnType<typeof onnx.NodeProto.create>;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const ML_DOMAIN = 'ai.onnx.ml';

export interface ModelMeta {
  name: string;
  version: string;
  description: string;
  featureNames: string[];
}

function attr(name: string, value: number | string | number[] | string[], kind: 'f' | 'i' = 'f'): Attribute {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string')
    return onnx.AttributeProto.create({ name, type: A.STRING, s: Buffer.from(value) });
  if (typeof value === 'number') {
    return kind === 'i'
      ? onnx.AttributeProto.create({ name, type: A.INT, i: value })
      : onnx.AttributeProto.create({ name, type: A.FLOAT, f: value });
  }
  if (value.length > 0 && typeof value[0] === 'string') {
    return onnx.AttributeProto.create({
      name,
      type: A.STRINGS,
      strings: (value as string[]).map((s) => Buffer.from(s)),
    });
  }
  return kind === 'i'
    ? onnx.AttributeProto.create({ name, type: A.INTS, ints: value as number[] })
    : onnx.AttributeProto.create({ name, type: A.FLOATS, floats: (value as number[]).map(Math.fround) });
}

function node(
  opType: string,
  input: string[],
  output: string[],
  attribute: Attribute[] = [],
  domain = '',
): Node {
  return onnx.NodeProto.create({ opType, input, output, name: output[0], attribute, domain });
}

function floatTensor(name: string, dims: number[], values: number[]) {
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, floatData: values.map(Math.fround) });
}

function int64Tensor(name: string, dims: number[], values: number[]) {
  return onnx.TensorProto.create({ name, dims, dataType: INT64, int64Data: values });
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim } } } });
}

function encodeModel(meta: ModelMeta, graph: ReturnType<typeof onnx.GraphProto.create>): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [
      { domain: '', version: 13 },
      { domain: ML_DOMAIN, version: 3 },
    ],
    producerName: 'clinical-ml-gateway/scripts/build-models.ts',
    producerVersion: meta.version,
    domain: 'dev.clinical-ml-gateway',
    modelVersion: 1,
    docString: meta.description,
    graph,
    metadataProps: [
      { key: 'name', value: meta.name },
      { key: 'version', value: meta.version },
      { key: 'features', value: meta.featureNames.join(',') },
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * features [N,F] -> append |x[:,derivedColumn] - derivedCenter| as an extra column ->
 * standardize ((x - mean) / std) -> MatMul + Add -> Sigmoid -> probability [N,1].
 */
export function logisticToOnnx(
  model: LogisticModel,
  meta: ModelMeta,
  derived: { column: number; center: number },
): Uint8Array {
  const f = meta.featureNames.length;
  const k = model.weights.length;
  const graph = onnx.GraphProto.create({
    name: meta.name,
    node: [
      node('Gather', ['features', 'derived_column'], ['derived_raw'], [attr('axis', 1, 'i')]),
      node('Sub', ['derived_raw', 'derived_center'], ['derived_offset']),
      node('Abs', ['derived_offset'], ['derived_distance']),
      node('Concat', ['features', 'derived_distance'], ['expanded'], [attr('axis', 1, 'i')]),
      node('Sub', ['expanded', 'mean'], ['centered']),
      node('Div', ['centered', 'std'], ['standardized']),
      node('MatMul', ['standardized', 'weights'], ['weighted']),
      node('Add', ['weighted', 'bias'], ['logit']),
      node('Sigmoid', ['logit'], ['probability']),
    ],
    initializer: [
      int64Tensor('derived_column', [1], [derived.column]),
      floatTensor('derived_center', [], [derived.center]),
      floatTensor('mean', [k], model.mean),
      floatTensor('std', [k], model.std),
      floatTensor('weights', [k, 1], model.weights),
      floatTensor('bias', [1], [model.bias]),
    ],
    input: [valueInfo('features', FLOAT, ['N', f])],
    output: [valueInfo('probability', FLOAT, ['N', 1])],
  });
  return encodeModel(meta, graph);
}

interface FlatTrees {
  treeIds: number[];
  nodeIds: number[];
  featureIds: number[];
  values: number[];
  modes: string[];
  trueIds: number[];
  falseIds: number[];
  leafTreeIds: number[];
  leafNodeIds: number[];
  leafWeights: number[];
}

function flatten(trees: TreeNode[]): FlatTrees {
  const out: FlatTrees = {
    treeIds: [],
    nodeIds: [],
    featureIds: [],
    values: [],
    modes: [],
    trueIds: [],
    falseIds: [],
    leafTreeIds: [],
    leafNodeIds: [],
    leafWeights: [],
  };
  trees.forEach((tree, treeId) => {
    let next = 0;
    const visit = (current: TreeNode): number => {
      const id = next++;
      const at = out.nodeIds.length;
      out.treeIds.push(treeId);
      out.nodeIds.push(id);
      if (current.kind === 'leaf') {
        out.featureIds.push(0);
        out.values.push(0);
        out.modes.push('LEAF');
        out.trueIds.push(0);
        out.falseIds.push(0);
        out.leafTreeIds.push(treeId);
        out.leafNodeIds.push(id);
        out.leafWeights.push(current.value);
        return id;
      }
      out.featureIds.push(current.feature);
      out.values.push(current.threshold);
      out.modes.push('BRANCH_LEQ');
      out.trueIds.push(0);
      out.falseIds.push(0);
      out.trueIds[at] = visit(current.left);
      out.falseIds[at] = visit(current.right);
      return id;
    };
    visit(tree);
  });
  return out;
}

/** Binary TreeEnsembleClassifier, LOGISTIC post-transform: probabilities [N,2], column 1 positive. No ZipMap. */
export function treesToOnnx(model: BoostedTrees, meta: ModelMeta): Uint8Array {
  const flat = flatten(model.trees);
  const classifier = node(
    'TreeEnsembleClassifier',
    ['features'],
    ['label', 'probabilities'],
    [
      attr('base_values', [model.baseScore]),
      attr(
        'class_ids',
        flat.leafNodeIds.map(() => 0),
        'i',
      ),
      attr('class_nodeids', flat.leafNodeIds, 'i'),
      attr('class_treeids', flat.leafTreeIds, 'i'),
      attr('class_weights', flat.leafWeights),
      attr('classlabels_int64s', [0, 1], 'i'),
      attr('nodes_falsenodeids', flat.falseIds, 'i'),
      attr('nodes_featureids', flat.featureIds, 'i'),
      attr('nodes_modes', flat.modes),
      attr('nodes_nodeids', flat.nodeIds, 'i'),
      attr('nodes_treeids', flat.treeIds, 'i'),
      attr('nodes_truenodeids', flat.trueIds, 'i'),
      attr('nodes_values', flat.values),
      attr('post_transform', 'LOGISTIC'),
    ],
    ML_DOMAIN,
  );
  const graph = onnx.GraphProto.create({
    name: meta.name,
    node: [classifier],
    input: [valueInfo('features', FLOAT, ['N', meta.featureNames.length])],
    output: [valueInfo('label', INT64, ['N']), valueInfo('probabilities', FLOAT, ['N', 2])],
  });
  return encodeModel(meta, graph);
}
