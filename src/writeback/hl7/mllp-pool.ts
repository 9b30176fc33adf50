import { MllpClient, type MllpClientTls } from '../../mllp/client.js';

/** Where to connect, and how long a connect or a send may take. */
export interface MllpEndpoint {
  name: string;
  host: string;
  port: number;
  timeoutMs: number;
  tls?: MllpClientTls;
}

/**
 * One MLLP connection a destination, opened on first use and kept; after a transport failure it is
 * dropped and the next send opens a new one.
 */
export function createMllpPool() {
  const clients = new Map<string, Promise<MllpClient>>();

  function client(dest: MllpEndpoint): Promise<MllpClient> {
    let c = clients.get(dest.name);
    if (!c) {
      c = connectWithin(dest);
      clients.set(dest.name, c);
      c.catch(() => clients.delete(dest.name));
    }
    return c;
  }

  return {
    /** Sends one message on the destination's connection and answers its ACK. */
    async send(dest: MllpEndpoint, message: string): Promise<string> {
      return (await client(dest)).send(message);
    },
    /** The connection is suspect (a transport failure): close it; the next send opens a new one. */
    drop(name: string): void {
      const c = clients.get(name);
      clients.delete(name);
      void c?.then((x) => x.close()).catch(() => {});
    },
    async closeAll(): Promise<void> {
      for (const c of clients.values()) await c.then((x) => x.close()).catch(() => {});
      clients.clear();
    },
  };
}

/** Connects, or fails after the destination's timeoutMs (an address that never answers). */
function connectWithin(dest: MllpEndpoint): Promise<MllpClient> {
  const p = MllpClient.connect({
    host: dest.host,
    port: dest.port,
    timeoutMs: dest.timeoutMs,
    ...(dest.tls ? { tls: dest.tls } : {}),
  });
  return new Promise((resolve, reject) => {
    let late = false;
    const t = setTimeout(() => {
      late = true;
      reject(new Error(`no connection within ${dest.timeoutMs} ms`));
    }, dest.timeoutMs);
    p.then(
      (c) => {
        clearTimeout(t);
        if (late) void c.close();
        else resolve(c);
      },
      (err) => {
        clearTimeout(t);
        reject(err);
      },
    );
  });
}
