import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../observability/logger.js';
import { errorInfo } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Hl7Intake } from '../intake.js';
import { encodeFrame, MllpDecoder } from './codec.js';

export interface MllpListenerOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  maxConnections: number;
  idleTimeoutMs: number;
  intake: Hl7Intake;
  logger: Logger;
  metrics: Metrics;
}

export interface MllpListener {
  readonly port: number;
  /** Stops accepting connections, answers every frame already received, then closes the sockets. */
  close(): Promise<void>;
}

/** Frames in flight on one connection before it stops reading (back-pressure on the sender). */
const MAX_IN_FLIGHT = 512;

/**
 * The MLLP listener: one decoder per socket, each frame handed to the intake as it completes, ACKs
 * written in the order the frames came, on the same connection. A failing handler becomes an ACK; a
 * malformed frame never closes the connection or stops the listener.
 */
export async function startMllpListener(o: MllpListenerOptions): Promise<MllpListener> {
  const sockets = new Map<Socket, { drained: () => Promise<void> }>();

  const server: Server = createServer((socket) => {
    const decoder = new MllpDecoder(o.maxMessageBytes);
    let tail: Promise<void> = Promise.resolve();
    let inFlight = 0;
    const remote = socket.remoteAddress ?? '';
    o.metrics.mllpConnections.inc();
    sockets.set(socket, { drained: () => tail });
    socket.setNoDelay(true);
    if (o.idleTimeoutMs > 0) socket.setTimeout(o.idleTimeoutMs, () => socket.end());

    socket.on('data', (chunk: Buffer) => {
      let frames: ReturnType<MllpDecoder['push']>;
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        o.logger.error({ err: errorInfo(err) }, 'mllp decoder failed');
        socket.destroy();
        return;
      }
      for (const f of frames) {
        const started = performance.now();
        const result =
          f.kind === 'frame'
            ? o.intake.receive(f.payload, 'mllp')
            : Promise.resolve(o.intake.tooLarge(f.head, f.size, o.maxMessageBytes, 'mllp'));
        inFlight++;
        if (inFlight >= MAX_IN_FLIGHT) socket.pause();
        tail = tail
          .then(async () => {
            const r = await result;
            inFlight--;
            if (inFlight < MAX_IN_FLIGHT && socket.isPaused()) socket.resume();
            if (!socket.destroyed) socket.write(encodeFrame(r.ack));
            o.metrics.ackSeconds.observe({ code: r.code }, (performance.now() - started) / 1000);
          })
          .catch((err) => o.logger.error({ err: errorInfo(err) }, 'mllp ack failed'));
      }
    });
    socket.on('error', (err) => {
      o.logger.debug({ err: errorInfo(err), remote }, 'mllp socket error');
    });
    socket.on('close', () => {
      o.metrics.mllpConnections.dec();
      sockets.delete(socket);
    });
  });
  server.maxConnections = o.maxConnections;
  server.on('error', (err) => o.logger.error({ err: errorInfo(err) }, 'mllp listener error'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  o.logger.info({ host: o.host, port }, 'mllp listener ready');

  return {
    port,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      await Promise.all([...sockets.values()].map((s) => s.drained()));
      for (const s of sockets.keys()) s.end();
      const forced = setTimeout(() => {
        for (const s of sockets.keys()) s.destroy();
      }, 2000);
      await closed;
      clearTimeout(forced);
    },
  };
}
