import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  ca: string;
  /** Server certificate for 127.0.0.1 / localhost, and its key. */
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Issues another server certificate with the given CN into the given paths (reload tests). */
  issueServer(cn: string, cert: string, key: string): void;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });

/**
 * A throw-away PKI made with `openssl` in a temp dir: a CA, a server certificate for 127.0.0.1 and a
 * client certificate, all signed by the CA. Nothing of it is committed.
 */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'gw-pki-'));
  const p = (f: string) => join(dir, f);
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=Test CA',
    ],
    dir,
  );
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n');
  const issue = (cn: string, cert: string, key: string, ext: string) => {
    const csr = `${cert}.csr`;
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        cert,
        '-days',
        '2',
        '-extfile',
        ext,
      ],
      dir,
    );
  };
  issue('gateway-a', p('server.pem'), p('server.key'), 'server.ext');
  issue('mirth-client', p('client.pem'), p('client.key'), 'client.ext');
  return {
    dir,
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    issueServer: (cn, cert, key) => issue(cn, cert, key, 'server.ext'),
  };
}
