import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../errors/codes.js';

/**
 * One process per DATA_DIR: the embedded database must never be opened by two processes. The lock
 * is a file created exclusively (`DATA_DIR/gateway.lock`, holding the pid); a second process finds
 * it and stops at once naming the holder; a lock left by a process that is gone (kill -9, power
 * loss), or whose pid now belongs to a process started after the lock was written, is taken over.
 */

export class DataDirLockedError extends GatewayError {
  override name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
    readonly file: string,
  ) {
    super('GW_DATA_DIR_LOCKED', dataDir, String(pid), file, String(pid));
  }
}

export interface DataDirLock {
  file: string;
  release(): void;
}

interface Holder {
  pid: number;
  startedAt?: string;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** When a process started (Linux /proc), or undefined where that cannot be read. */
function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, in clock ticks after boot) counted from field 3, after the ")" of the name.
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const boot = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(ticks) && Number.isFinite(boot) ? boot * 1000 + ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The holder still holds the lock: its pid runs and is the same process that wrote it, not a later
 * one given the same pid (a container restarted after kill -9 often gets the same pid again).
 */
function holds(h: Holder): boolean {
  if (!alive(h.pid)) return false;
  const started = processStartMs(h.pid);
  const wrote = h.startedAt ? Date.parse(h.startedAt) : Number.NaN;
  return started === undefined || Number.isNaN(wrote) || wrote >= started - 2000;
}

function readHolder(file: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    return Number.isSafeInteger(h.pid) && (h.pid as number) > 0 ? (h as Holder) : undefined;
  } catch {
    return undefined; // gone meanwhile, or half written by a process that died while writing it
  }
}

export function lockDataDir(dataDir: string, pid = process.pid): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'gateway.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, `${JSON.stringify({ pid, startedAt: new Date().toISOString() })}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      const holder = readHolder(file);
      if (holder && holds(holder)) throw new DataDirLockedError(dataDir, holder.pid, file);
      // Stale (its process is gone) or unreadable: take it over. It is moved aside first, so that
      // of two starts taking over at once, the one that moved a live lock (the other's) puts it back.
      const aside = `${file}.${pid}.stale`;
      try {
        renameSync(file, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const moved = readHolder(aside);
      if (moved && moved.pid !== holder?.pid && holds(moved)) {
        try {
          linkSync(aside, file);
        } finally {
          unlinkSync(aside);
        }
        throw new DataDirLockedError(dataDir, moved.pid, file);
      }
      unlinkSync(aside);
    }
  }
  let held = true;
  return {
    file,
    release() {
      if (!held) return;
      held = false;
      if (readHolder(file)?.pid === pid) unlinkSync(file);
    },
  };
}
