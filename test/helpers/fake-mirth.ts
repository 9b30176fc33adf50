import { createServer, type Server } from 'node:net';
import { encodeFrame, MllpDecoder } from '../../src/mllp/codec.js';

export interface FakeMirth {
  port: number;
  /** Every message received, in order of arrival. */
  received: string[];
  close(): Promise<void>;
}

/**
 * A stand-in for a Mirth TCP Listener: real MLLP over a real socket, answering each message with
 * the ACK code `answer(message, n)` picks (n counts from 1), or not at all for 'none'. `port`: a
 * fixed port (a destination that comes back up where it was), else a free one.
 */
export async function startFakeMirth(
  answer: (message: string, n: number) => string | 'none',
  port = 0,
): Promise<FakeMirth> {
  const received: string[] = [];
  const server: Server = createServer((socket) => {
    const decoder = new MllpDecoder(1024 * 1024);
    socket.on('data', (chunk) => {
      for (const f of decoder.push(chunk)) {
        if (f.kind !== 'frame') continue;
        const msg = f.payload.toString('utf8');
        received.push(msg);
        const code = answer(msg, received.length);
        if (code === 'none') continue;
        const ctrl = msg.split('\r')[0]?.split('|')[9] ?? '';
        socket.write(
          encodeFrame(
            `MSH|^~\\&|MIRTH|HOSP|ML-GATEWAY||20240301||ACK^R01^ACK|A${received.length}|P|2.5.1\rMSA|${code}|${ctrl}\r`,
          ),
        );
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.unref();
      }),
  };
}
