/** Services: the data directory's lock, the admin token, the database, lineage and the raw cipher. */
import { randomBytes } from 'node:crypto';
import { lockDataDir } from '../db/data-dir-lock.js';
import { openDatabase } from '../db/open.js';
import { createLineageStore } from '../lineage/store.js';
import { resolveAdminToken } from '../security/auth.js';
import { createRawCipher, parseKey } from '../security/raw-cipher.js';
import { BOTH, type Service } from './service.js';

/** The embedded database lives in DATA_DIR: one process at a time (a second one stops here). */
export function dataDirLock(): Service {
  let lock: ReturnType<typeof lockDataDir> | undefined;
  return {
    name: 'lock',
    roles: BOTH,
    async init(rt) {
      if (!rt.config.databaseUrl) lock = lockDataDir(rt.dataDir);
    },
    async close() {
      lock?.release();
    },
  };
}

export const storage: () => Service = () => ({
  name: 'db',
  roles: BOTH,
  async init(rt) {
    const { config } = rt;
    // With only the admin token's hash the gateway cannot use it itself: its own calls (to the
    // embedded FHIR store) carry a per-process internal token instead.
    rt.token = config.adminTokenSha256
      ? { token: randomBytes(32).toString('hex'), internal: true as const }
      : resolveAdminToken(config.adminToken, rt.dataDir);
    rt.db = await openDatabase({
      dataDir: rt.dataDir,
      ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
      ...(rt.opts.schema || config.databaseSchema ? { schema: rt.opts.schema ?? config.databaseSchema } : {}),
    });
    rt.logger.info({ database: rt.db.kind }, 'database ready');
    rt.lineage = createLineageStore(rt.db, config.lineage);
    rt.cipher = createRawCipher(
      config.encryption.key ? parseKey(config.encryption.keyId, config.encryption.key) : undefined,
      Object.entries(config.encryption.previousKeys).map(([id, key]) => parseKey(id, key)),
    );
    if (rt.cipher.currentKeyId)
      rt.logger.info({ keyId: rt.cipher.currentKeyId }, 'raw messages encrypted at rest');
    else
      rt.logger.warn(
        'raw messages are stored UNENCRYPTED: set GATEWAY_ENCRYPTION_KEY (base64, 32 bytes) to encrypt them at rest',
      );
  },
  async close(rt) {
    await rt.db?.close();
  },
});
