import { readFileSync } from 'node:fs';
import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { encodeFrame, MllpDecoder } from './codec.js';

export interface MllpClientOptions {
  host: string;
  port: number;
  /** Time to wait for each ACK. */
  timeoutMs?: number;
  /** MLLP over TLS: PEM paths; `cert`/`key` for mutual TLS; `ca` to verify the server. */
  tls?: MllpClientTls;
}

export interface MllpClientTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** Name the server certificate must carry (default: host). */
  servername?: string;
  /** False only for tests against self-signed servers without a CA. Default true. */
  rejectUnauthorized?: boolean;
}

/**
 * A small MLLP client: one connection, frames sent and their ACKs read back in order. Used by
 * `gateway send`, the tests and the benchmark.
 */
export class MllpClient {
  private readonly decoder = new MllpDecoder(64 * 1024 * 1024);
  private waiting: Array<{ resolve(ack: string): void; reject(e: Error): void; timer?: NodeJS.Timeout }> = [];
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.decoder.push(chunk)) {
        const w = this.waiting.shift();
        if (!w) continue;
        if (w.timer) clearTimeout(w.timer);
        w.resolve(f.kind === 'frame' ? f.payload.toString('utf8') : '');
      }
    });
    const fail = (err: Error) => {
      this.failure = err;
      for (const w of this.waiting.splice(0)) {
        if (w.timer) clearTimeout(w.timer);
        w.reject(err);
      }
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed before the ACK arrived')));
  }

  static connect(o: MllpClientOptions): Promise<MllpClient> {
    return new Promise((resolve, reject) => {
      const ready = () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new MllpClient(socket, o.timeoutMs ?? 30_000));
      };
      const t = o.tls;
      const socket: Socket = t
        ? connectTls(
            {
              host: o.host,
              port: o.port,
              ...(t.ca ? { ca: readFileSync(t.ca) } : {}),
              ...(t.cert ? { cert: readFileSync(t.cert) } : {}),
              ...(t.key ? { key: readFileSync(t.key) } : {}),
              ...(t.servername || !isIP(o.host) ? { servername: t.servername ?? o.host } : {}),
              rejectUnauthorized: t.rejectUnauthorized ?? true,
            },
            ready,
          )
        : connect({ host: o.host, port: o.port }, ready);
      socket.once('error', reject);
    });
  }

  /** Sends one message; resolves with its ACK. Calls may overlap: ACKs are matched in order. */
  send(message: string | Buffer): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const w: (typeof this.waiting)[number] = { resolve, reject };
      if (this.timeoutMs > 0) {
        w.timer = setTimeout(() => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new Error(`no ACK within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
      }
      this.waiting.push(w);
      this.socket.write(encodeFrame(message));
    });
  }

  /** Writes raw bytes (tests: split frames, garbage). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits for the next ACK without sending (after writeRaw). */
  nextAck(): Promise<string> {
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }
}
