// Types of inference-layout.js (plain JavaScript, shared with the worker thread).
export declare const FREE: 0;
export declare const SUBMITTED: 1;
export declare const DONE: 2;
export declare const FAILED: 3;
export declare const STOP: 0;
export declare const MAIN_WAITING: 1;
export declare const SLEEPING: 2;
export declare const ERROR_BYTES: number;
export declare function stateWord(slot: number): number;
export interface SlotView {
  rows: Float32Array;
  scores: Float32Array;
  error: Uint8Array;
}
export declare function slotViews(
  shared: SharedArrayBuffer,
  slots: number,
  maxRows: number,
  width: number,
): { ctrl: Int32Array; slots: SlotView[] };
export declare function bytesFor(slots: number, maxRows: number, width: number): number;
