import { type ChildProcess, spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import type { Logger } from './observability/logger.js';

/** Set in the environment of the worker child that `gateway serve` starts for role `all`. */
export const WORKER_CHILD_ENV = 'GATEWAY_WORKER_CHILD';

/**
 * Role `all` on PostgreSQL with processing.workerProcess: this process becomes the intake and runs
 * the processing in a worker-role child process: the same entry point and arguments, GATEWAY_ROLE
 * worker, its own free HTTP port on the same host (its /metrics and /health are its own), at a
 * lower CPU priority (nice 10: a saturated pipeline does not take the cores from the ACKs). The
 * child is started again when it dies (after 1 s, then up to 30 s apart) and stopped (SIGTERM,
 * waited for) by stop(); it stops by itself when this process is gone (kill -9).
 */
export function startWorkerChild(logger: Logger): { stop(): Promise<void> } {
  let child: ChildProcess | undefined;
  let stopping = false;
  let delay = 1000;
  let timer: NodeJS.Timeout | undefined;
  const launch = () => {
    const started = Date.now();
    const c = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
      env: {
        ...process.env,
        GATEWAY_ROLE: 'worker',
        HTTP_PORT: '0',
        MLLP_PORT: '0',
        [WORKER_CHILD_ENV]: '1',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child = c;
    try {
      if (c.pid) setPriority(c.pid, 10);
    } catch {
      // not permitted here: the child runs at this process's priority
    }
    logger.info({ pid: c.pid }, 'worker process started');
    c.once('exit', (code, signal) => {
      child = undefined;
      if (stopping) return;
      delay = Date.now() - started > 60_000 ? 1000 : Math.min(30_000, delay * 2);
      logger.error({ code, signal, restartInMs: delay }, 'worker process exited; starting another');
      timer = setTimeout(launch, delay);
    });
  };
  launch();
  return {
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      await exited;
    },
  };
}
