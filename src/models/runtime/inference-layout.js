/**
 * The shared memory between the event loop (inference-thread.ts) and an inference thread
 * (inference-worker.js), one definition for both. Plain JavaScript, as the worker is (it runs
 * without the TypeScript loader); inference-layout.d.ts gives it its types.
 *
 * Int32 control words first: STOP, MAIN_WAITING, SLEEPING, then per slot its state, its row
 * count and how long its last batch took in the session (µs). Then per slot: the rows (maxRows x width float32), one score a row (float32), and the
 * error text of a failed batch (UTF-8, zero-padded).
 */

/** Slot states. */
export const FREE = 0;
export const SUBMITTED = 1;
export const DONE = 2;
export const FAILED = 3;

/** Control words. */
export const STOP = 0;
export const MAIN_WAITING = 1;
export const SLEEPING = 2;

export const ERROR_BYTES = 512;
const HEADER_BYTES = 64;

/** Index of slot s's state word (its row count is the word after, its run time in µs the next). */
export const stateWord = (s) => 4 + s * 3;

/** Bytes of one slot: its rows, its scores and its error text. */
const slotBytesFor = (maxRows, width) => maxRows * width * 4 + maxRows * 4 + ERROR_BYTES;

/** The views over `shared` (made with `bytesFor`), the same on both sides. */
export function slotViews(shared, slots, maxRows, width) {
  if (stateWord(slots) * 4 > HEADER_BYTES) throw new RangeError(`${slots} slots do not fit the header`);
  const slotBytes = slotBytesFor(maxRows, width);
  return {
    ctrl: new Int32Array(shared, 0, stateWord(slots)),
    slots: Array.from({ length: slots }, (_, s) => {
      const base = HEADER_BYTES + s * slotBytes;
      return {
        rows: new Float32Array(shared, base, maxRows * width),
        scores: new Float32Array(shared, base + maxRows * width * 4, maxRows),
        error: new Uint8Array(shared, base + maxRows * width * 4 + maxRows * 4, ERROR_BYTES),
      };
    }),
  };
}

/** Bytes of shared memory for `slots` slots of `maxRows` rows of `width` features. */
export function bytesFor(slots, maxRows, width) {
  return HEADER_BYTES + slots * slotBytesFor(maxRows, width);
}
