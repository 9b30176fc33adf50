/**
 * Logistic regression trained by full-batch gradient descent on standardized features, with a
 * small L2 penalty. The standardization (mean, standard deviation) is returned so the ONNX
 * graph can apply it; the weights are on the standardized scale.
 */
import type { Dataset } from './dataset.js';
import { sigmoid } from './prng.js';

export interface LogisticModel {
  mean: number[];
  std: number[];
  weights: number[];
  bias: number;
}

export interface LogisticOptions {
  iterations: number;
  learningRate: number;
  l2: number;
}

function columnStats(data: Dataset): { mean: number[]; std: number[] } {
  const mean = new Array<number>(data.f).fill(0);
  const std = new Array<number>(data.f).fill(0);
  for (let i = 0; i < data.n; i++) {
    for (let j = 0; j < data.f; j++) mean[j]! += data.x[i * data.f + j]!;
  }
  for (let j = 0; j < data.f; j++) mean[j]! /= data.n;
  for (let i = 0; i < data.n; i++) {
    for (let j = 0; j < data.f; j++) std[j]! += (data.x[i * data.f + j]! - mean[j]!) ** 2;
  }
  for (let j = 0; j < data.f; j++) std[j] = Math.sqrt(std[j]! / data.n) || 1;
  return { mean, std };
}

export function trainLogistic(data: Dataset, options: LogisticOptions): LogisticModel {
  const { mean, std } = columnStats(data);
  const z = new Float64Array(data.n * data.f);
  for (let i = 0; i < data.n; i++) {
    for (let j = 0; j < data.f; j++) z[i * data.f + j] = (data.x[i * data.f + j]! - mean[j]!) / std[j]!;
  }
  const weights = new Array<number>(data.f).fill(0);
  let bias = 0;
  const grad = new Float64Array(data.f);
  for (let iter = 0; iter < options.iterations; iter++) {
    grad.fill(0);
    let gradBias = 0;
    for (let i = 0; i < data.n; i++) {
      let logit = bias;
      for (let j = 0; j < data.f; j++) logit += weights[j]! * z[i * data.f + j]!;
      const residual = sigmoid(logit) - data.y[i]!;
      gradBias += residual;
      for (let j = 0; j < data.f; j++) grad[j]! += residual * z[i * data.f + j]!;
    }
    bias -= (options.learningRate * gradBias) / data.n;
    for (let j = 0; j < data.f; j++) {
      weights[j]! -= options.learningRate * (grad[j]! / data.n + options.l2 * weights[j]!);
    }
  }
  return { mean, std, weights, bias };
}

export function predictLogistic(model: LogisticModel, features: ArrayLike<number>): number {
  let logit = model.bias;
  for (let j = 0; j < model.weights.length; j++) {
    logit += (model.weights[j]! * (features[j]! - model.mean[j]!)) / model.std[j]!;
  }
  return sigmoid(logit);
}
