import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { GatewayError } from '../errors/codes.js';

const WEB = join(dirname(fileURLToPath(import.meta.url)), 'web');
const require = createRequire(import.meta.url);

/**
 * What every console response carries: scripts and styles from this origin only (Plotly's own
 * inline styles allowed), no framing. Another layer may set security headers for every route; these
 * are the ones the console needs to be safe on its own.
 */
export const CONSOLE_CSP =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** Plotly's bundle, read from node_modules once (the gateway serves it: hospital networks reach no CDN). */
function plotly(): { version: string; body: Buffer } {
  const pkg = require.resolve('plotly.js-dist-min/package.json');
  const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  return { version, body: readFileSync(join(dirname(pkg), 'plotly.min.js')) };
}

/**
 * The console's browser code: src/console/web/*.ts bundled by esbuild into one ES module at the
 * first request (20 KB, 15-110 ms), then kept in memory. No build step, nothing written to disk.
 */
async function bundle(): Promise<string> {
  const { build } = await import('esbuild');
  const r = await build({
    entryPoints: [join(WEB, 'main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return r.outputFiles[0]!.text;
}

/**
 * `GET /console` (the page shell), `/console/app.js`, `/console/console.css` and
 * `/console/vendor/plotly-<version>.min.js`. These are public (src/http/server.ts): they hold no
 * data; every data call the page makes carries the token given in its sign-in form.
 */
export function registerConsoleRoutes(app: FastifyInstance): void {
  let js: Promise<string> | undefined;
  let vendor: { version: string; body: Buffer } | undefined;
  const vendorOf = () => {
    vendor ??= plotly();
    return vendor;
  };
  const secure = (reply: FastifyReply) =>
    reply
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');

  app.get('/console', async (_req, reply) => {
    const html = readFileSync(join(WEB, 'index.html'), 'utf8').replace(
      '%PLOTLY%',
      `/console/vendor/plotly-${vendorOf().version}.min.js`,
    );
    return secure(reply).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html);
  });
  app.get('/console/', async (_req, reply) => reply.redirect('/console', 301));
  app.get('/console/app.js', async (_req, reply) => {
    js ??= bundle().catch((err) => {
      js = undefined;
      throw err;
    });
    return secure(reply)
      .header('cache-control', 'no-cache')
      .type('text/javascript; charset=utf-8')
      .send(await js);
  });
  app.get('/console/console.css', async (_req, reply) =>
    secure(reply)
      .header('cache-control', 'no-cache')
      .type('text/css; charset=utf-8')
      .send(readFileSync(join(WEB, 'console.css'))),
  );
  app.get('/console/vendor/:file', async (req, reply) => {
    const { file } = req.params as { file: string };
    const v = vendorOf();
    if (file !== `plotly-${v.version}.min.js`) throw new GatewayError('GW_NOT_FOUND', `console file ${file}`);
    return secure(reply)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type('text/javascript; charset=utf-8')
      .send(v.body);
  });
}
