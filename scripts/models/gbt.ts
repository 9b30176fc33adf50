/**
 * Gradient-boosted regression trees on the log-loss (Newton leaf values, L2-regularised), the
 * same family as XGBoost/LightGBM but small enough to read. Splits are `x <= threshold`, which
 * is the ONNX TreeEnsemble `BRANCH_LEQ` mode; thresholds are float32 so the exported model
 * sends every training row down the same branch as here.
 */
import type { Dataset } from './dataset.js';
import { sigmoid } from './prng.js';

export type TreeNode =
  | { kind: 'leaf'; value: number }
  | { kind: 'split'; feature: number; threshold: number; left: TreeNode; right: TreeNode };

export interface BoostedTrees {
  /** Log-odds every prediction starts from (the training prevalence). */
  baseScore: number;
  trees: TreeNode[];
}

export interface BoostingOptions {
  trees: number;
  maxDepth: number;
  learningRate: number;
  minLeafSamples: number;
  l2: number;
}

interface SplitChoice {
  feature: number;
  threshold: number;
  gain: number;
}

/** Row indices sorted by each feature value, computed once. */
function presort(data: Dataset): Uint32Array[] {
  const orders: Uint32Array[] = [];
  for (let j = 0; j < data.f; j++) {
    const idx = Array.from({ length: data.n }, (_, i) => i);
    idx.sort((a, b) => data.x[a * data.f + j]! - data.x[b * data.f + j]! || a - b);
    orders.push(Uint32Array.from(idx));
  }
  return orders;
}

function score(g: number, h: number, l2: number): number {
  return (g * g) / (h + l2);
}

function bestSplit(
  data: Dataset,
  orders: Uint32Array[],
  inNode: Uint8Array,
  grad: Float64Array,
  hess: Float64Array,
  totals: { g: number; h: number; count: number },
  options: BoostingOptions,
): SplitChoice | undefined {
  let best: SplitChoice | undefined;
  const parent = score(totals.g, totals.h, options.l2);
  for (let j = 0; j < data.f; j++) {
    let gl = 0;
    let hl = 0;
    let count = 0;
    let previous = Number.NaN;
    for (const i of orders[j]!) {
      if (!inNode[i]) continue;
      const value = data.x[i * data.f + j]!;
      if (
        count >= options.minLeafSamples &&
        totals.count - count >= options.minLeafSamples &&
        value !== previous
      ) {
        const gain = score(gl, hl, options.l2) + score(totals.g - gl, totals.h - hl, options.l2) - parent;
        if (gain > 1e-9 && (!best || gain > best.gain)) {
          let threshold = Math.fround((previous + value) / 2);
          if (!(threshold >= previous && threshold < value)) threshold = previous;
          best = { feature: j, threshold, gain };
        }
      }
      gl += grad[i]!;
      hl += hess[i]!;
      count++;
      previous = value;
    }
  }
  return best;
}

function growTree(
  data: Dataset,
  orders: Uint32Array[],
  members: number[],
  grad: Float64Array,
  hess: Float64Array,
  depth: number,
  options: BoostingOptions,
): TreeNode {
  let g = 0;
  let h = 0;
  for (const i of members) {
    g += grad[i]!;
    h += hess[i]!;
  }
  const leaf: TreeNode = { kind: 'leaf', value: Math.fround((-options.learningRate * g) / (h + options.l2)) };
  if (depth >= options.maxDepth || members.length < 2 * options.minLeafSamples) return leaf;
  const inNode = new Uint8Array(data.n);
  for (const i of members) inNode[i] = 1;
  const split = bestSplit(data, orders, inNode, grad, hess, { g, h, count: members.length }, options);
  if (!split) return leaf;
  const left = members.filter((i) => data.x[i * data.f + split.feature]! <= split.threshold);
  const right = members.filter((i) => data.x[i * data.f + split.feature]! > split.threshold);
  return {
    kind: 'split',
    feature: split.feature,
    threshold: split.threshold,
    left: growTree(data, orders, left, grad, hess, depth + 1, options),
    right: growTree(data, orders, right, grad, hess, depth + 1, options),
  };
}

export function treeValue(node: TreeNode, features: ArrayLike<number>): number {
  let current = node;
  while (current.kind === 'split') {
    current = features[current.feature]! <= current.threshold ? current.left : current.right;
  }
  return current.value;
}

export function trainBoostedTrees(data: Dataset, options: BoostingOptions): BoostedTrees {
  let positives = 0;
  for (const label of data.y) positives += label;
  const prior = positives / data.n;
  const baseScore = Math.log(prior / (1 - prior));
  const orders = presort(data);
  const margin = new Float64Array(data.n).fill(baseScore);
  const grad = new Float64Array(data.n);
  const hess = new Float64Array(data.n);
  const all = Array.from({ length: data.n }, (_, i) => i);
  const trees: TreeNode[] = [];
  for (let t = 0; t < options.trees; t++) {
    for (let i = 0; i < data.n; i++) {
      const p = sigmoid(margin[i]!);
      grad[i] = p - data.y[i]!;
      hess[i] = Math.max(p * (1 - p), 1e-6);
    }
    const tree = growTree(data, orders, all, grad, hess, 0, options);
    trees.push(tree);
    for (let i = 0; i < data.n; i++)
      margin[i]! += treeValue(tree, data.x.subarray(i * data.f, (i + 1) * data.f));
  }
  return { baseScore, trees };
}

export function predictBoostedTrees(model: BoostedTrees, features: ArrayLike<number>): number {
  let margin = model.baseScore;
  for (const tree of model.trees) margin += treeValue(tree, features);
  return sigmoid(margin);
}
