// The image's HEALTHCHECK: GET /health/live on this container's own HTTP port, plain or TLS
// (GATEWAY_HEALTH_TLS=1 when http.tls is configured; the certificate is not checked, the process is).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

const tls = process.env.GATEWAY_HEALTH_TLS === '1';
const req = (tls ? httpsRequest : httpRequest)(
  {
    host: '127.0.0.1',
    port: Number(process.env.HTTP_PORT || 8080),
    path: '/health/live',
    timeout: 2500,
    ...(tls ? { rejectUnauthorized: false } : {}),
  },
  (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  },
);
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
req.end();
