/**
 * The input/output signature an ONNX graph declares: what the registry stores beside each version
 * and compares with an MLflow signature. The runtime reads it from the bytes (onnx-model.ts).
 */
export interface TensorSignature {
  name: string;
  type: string;
  shape: Array<number | string>;
}

export interface OnnxSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}
