import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/**
 * The environment a child starts with: only what a process needs to run (PATH, HOME, …) and what the
 * test gives. Nothing of the caller's shell leaks in (JWT_SECRET, DATABASE_URL, NODE_OPTIONS, …), so a
 * test behaves the same whoever runs it.
 */
export function childEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const v = process.env[name];
    if (v !== undefined) base[name] = v;
  }
  // tsx keeps its transforms, and npm (a test starting `npm start`) Node's compile cache, in the temp
  // dir unless told not to: a test run leaves nothing there.
  return { ...base, LOG_LEVEL: 'info', TSX_DISABLE_CACHE: '1', NODE_DISABLE_COMPILE_CACHE: '1', ...env };
}

const running = new Set<ChildProcess>();

/**
 * Starts a command in a process group of its own with the given environment (see childEnv). Every
 * process started this way is stopped after the test file (stopAllProcesses), whether the test passed
 * or not, together with what it started (an embedded PostgreSQL).
 */
export function startProcess(command: string, args: string[], env: Record<string, string>): ServerProcess {
  const child = spawn(command, args, { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  // 'close', not 'exit': it comes once the output pipes are drained too, so a test reading the output
  // after the process ended sees its last lines.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : null))));
  void exited.then(() => running.delete(child));
  return { child, output: () => out, exited };
}

/** Runs a TypeScript entry point from source (`src/main.ts` by default), as `npm run dev` does. */
export function startServerProcess(env: Record<string, string>, script = 'src/main.ts'): ServerProcess {
  return startProcess(process.execPath, ['--import', 'tsx', script], env);
}

/** SIGTERM to every process group still running, then SIGKILL to what is left after `graceMs`. */
export async function stopAllProcesses(graceMs = 10_000): Promise<void> {
  const left = [...running];
  const groupSignal = (child: ChildProcess, signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  for (const child of left) groupSignal(child, 'SIGTERM');
  await Promise.all(
    left.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            groupSignal(child, 'SIGKILL');
            resolve();
          }, graceMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
  // The group may hold more than the child (an embedded PostgreSQL it started).
  for (const child of left) groupSignal(child, 'SIGKILL');
  running.clear();
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 30000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
