import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { addressAllowList } from '../../acks/senders.js';
import { encodeFrame, MllpDecoder } from '../../mllp/codec.js';
import { type MllpTlsFiles, watchTlsFiles } from '../../mllp/tls.js';
import type { Logger } from '../../observability/logger.js';
import { errorInfo } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { inSpan, SpanKind } from '../../observability/tracing.js';
import type { Hl7Intake } from '../hl7-intake.js';

export interface MllpListenerOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  maxConnections: number;
  /** Connections at once from one source address; 0 = no limit beyond maxConnections. */
  maxConnectionsPerAddress?: number;
  idleTimeoutMs: number;
  /** Source addresses (IPs, CIDR ranges) allowed to connect; empty = any. */
  allowAddresses?: readonly string[];
  /** TLS (mutual TLS with `ca` + `requireClientCert`); files are re-read when they change. */
  tls?: MllpTlsFiles;
  /** How long close() lets in-flight frames finish before it closes sockets anyway. */
  shutdownGraceMs?: number;
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
 * The MLLP listener (plain TCP or TLS): one decoder per socket, each frame handed to the intake as it
 * completes, ACKs written in the order the frames came, on the same connection. A failing handler
 * becomes an ACK; a malformed frame never closes the connection or stops the listener. Connections
 * from addresses off the allow-list, or over the limits, are closed at once (nothing was received).
 */
export async function startMllpListener(o: MllpListenerOptions): Promise<MllpListener> {
  const sockets = new Map<Socket, { drained: () => Promise<void>; stop: () => void }>();
  const perAddress = new Map<string, number>();
  const allowed = addressAllowList(o.allowAddresses ?? []);
  let closing = false;

  const onConnection = (socket: Socket) => {
    const remote = socket.remoteAddress ?? '';
    if (closing || !allowed(remote) || sockets.size >= o.maxConnections) {
      o.metrics.mllpRefused.inc({ reason: closing ? 'closing' : !allowed(remote) ? 'address' : 'limit' });
      o.logger.warn(
        { remote, reason: closing ? 'closing' : !allowed(remote) ? 'address' : 'limit' },
        'mllp connection refused',
      );
      socket.destroy();
      return;
    }
    const n = (perAddress.get(remote) ?? 0) + 1;
    if (o.maxConnectionsPerAddress && n > o.maxConnectionsPerAddress) {
      o.metrics.mllpRefused.inc({ reason: 'address-limit' });
      o.logger.warn({ remote, reason: 'address-limit' }, 'mllp connection refused');
      socket.destroy();
      return;
    }
    perAddress.set(remote, n);
    serve(socket, remote);
  };

  const serve = (socket: Socket, remote: string) => {
    const decoder = new MllpDecoder(o.maxMessageBytes);
    let tail: Promise<void> = Promise.resolve();
    let inFlight = 0;
    let stopped = false;
    o.metrics.mllpConnections.inc();
    sockets.set(socket, {
      drained: () => tail,
      // Shutting down: read nothing more; frames already complete are still answered.
      stop: () => {
        stopped = true;
      },
    });
    socket.setNoDelay(true);
    if (o.idleTimeoutMs > 0) {
      socket.setTimeout(o.idleTimeoutMs, () => {
        if (inFlight === 0) socket.end();
      });
    }

    socket.on('data', (chunk: Buffer) => {
      if (stopped) return;
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
        // One trace per frame, from here to the FHIR write and the ORU sent (tracing on).
        const result = inSpan(
          'mllp.frame',
          {
            'gateway.channel': 'mllp',
            'gateway.frame.bytes': f.kind === 'frame' ? f.payload.length : f.size,
          },
          async (span) => {
            const r =
              f.kind === 'frame'
                ? await o.intake.receive(f.payload, 'mllp')
                : o.intake.tooLarge(f.head, f.size, o.maxMessageBytes, 'mllp');
            span.setAttribute('hl7.ack_code', r.code);
            return r;
          },
          { kind: SpanKind.SERVER, parent: ROOT_CONTEXT },
        );
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
      const left = (perAddress.get(remote) ?? 1) - 1;
      if (left <= 0) perAddress.delete(remote);
      else perAddress.set(remote, left);
    });
  };

  let stopWatching = () => {};
  let server: Server;
  if (o.tls) {
    const tlsServer = createTlsServer(
      {
        requestCert: !!o.tls.requestClientCert || !!o.tls.requireClientCert,
        rejectUnauthorized: !!o.tls.requireClientCert,
      },
      (s: TLSSocket) => onConnection(s),
    );
    stopWatching = watchTlsFiles(o.tls, (ctx) => tlsServer.setSecureContext(ctx), o.logger);
    tlsServer.on('tlsClientError', (err) =>
      o.logger.warn({ err: errorInfo(err) }, 'mllp tls handshake failed'),
    );
    server = tlsServer;
  } else {
    server = createServer(onConnection);
  }
  // Limits are enforced in onConnection (so that refusals are counted and logged).
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
  o.logger.info({ host: o.host, port, tls: !!o.tls }, 'mllp listener ready');

  return {
    port,
    async close() {
      closing = true;
      stopWatching();
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets.values()) s.stop();
      const grace = o.shutdownGraceMs ?? 10_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...sockets.values()].map((s) => s.drained())),
        new Promise((r) => {
          timer = setTimeout(r, grace);
        }),
      ]);
      clearTimeout(timer);
      for (const s of sockets.keys()) s.end();
      const forced = setTimeout(() => {
        for (const s of sockets.keys()) s.destroy();
      }, 2000);
      await closed;
      clearTimeout(forced);
    },
  };
}
