import { parentPort, workerData } from 'node:worker_threads';
import { MllpClient } from '../src/mllp/client.js';
import { vitalsOru } from '../test/helpers/messages.js';

/**
 * The senders of the intake benchmark, in a worker thread of their own (a real sender is another
 * process: its CPU is not the gateway's). Each connection keeps `window` messages in flight: 1 is a
 * sender that waits for each ACK (Mirth's TCP Sender), more is a pipelining sender.
 */
export interface SenderJob {
  port: number;
  connections: number;
  perConn: number;
  window: number;
  /** Messages per second across all connections; 0 = as fast as ACKs allow. */
  rate: number;
  run: string;
}

export interface SenderResult {
  seconds: number;
  latencies: number[];
  notAa: number;
}

async function main(job: SenderJob): Promise<SenderResult> {
  const clients = await Promise.all(
    Array.from({ length: job.connections }, () => MllpClient.connect({ host: '127.0.0.1', port: job.port })),
  );
  const latencies: number[] = [];
  let notAa = 0;
  const interval = job.rate > 0 ? (1000 * job.connections) / job.rate : 0;
  // Messages built before the clock starts: the sender's own work is not what is measured.
  const messages = clients.map((_, ci) =>
    Array.from({ length: job.perConn }, (_, i) =>
      Buffer.from(
        vitalsOru({ controlId: `B${job.run}-${ci}-${i}`, mrn: `P${ci}-${i % 50}`, hr: 60 + (i % 60) }),
      ),
    ),
  );
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c, ci) => {
      let next = 0;
      const lane = async () => {
        while (next < job.perConn) {
          const i = next++;
          if (interval > 0) {
            const wait = t0 + i * interval + (ci * interval) / job.connections - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          }
          const s = performance.now();
          const ack = await c.send(messages[ci]![i]!);
          latencies.push(performance.now() - s);
          if (!ack.includes('MSA|AA|')) notAa++;
        }
      };
      await Promise.all(Array.from({ length: job.window }, lane));
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  return { seconds, latencies, notAa };
}

if (parentPort) parentPort.postMessage(await main(workerData as SenderJob));
