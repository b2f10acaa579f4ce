import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The repository root: the server reads `Leptos.toml` and serves `target/site` from there. */
const ROOT = path.resolve(__dirname, '../../..');
/** The server binary scripts/test built (`LEADBOARD_BIN`), or the default debug build. */
const BIN = process.env.LEADBOARD_BIN ?? path.join(ROOT, 'target/debug/leadboard');

/** A free loopback port, as the OS hands them out. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A Leadboard server of the test's own, on a free port. It runs in the store the environment
 * names (scripts/test passes the store's settings), with a SQLite file of its own when that store
 * is SQLite; `sqlite: true` forces a fresh SQLite store (demo data, nothing else), for tests that
 * need a board no other test has touched.
 */
export class OwnServer {
  readonly url: string;
  private child?: ChildProcess;
  private log = '';
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'leadboard-e2e-'));

  private constructor(
    readonly port: number,
    private readonly sqlite: boolean,
    private readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** `env`: settings of this server's own (`LEADBOARD_*`), over the environment's. */
  static async start(opts: { sqlite?: boolean; env?: Record<string, string> } = {}): Promise<OwnServer> {
    const server = new OwnServer(await freePort(), opts.sqlite ?? false, opts.env ?? {});
    await server.restart();
    return server;
  }

  /** Starts the server (again, on the same port and data) and waits until it answers. */
  async restart(): Promise<void> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LEADBOARD_SITE_ADDR: `127.0.0.1:${this.port}`,
      LEADBOARD_SQLITE_PATH: path.join(this.dir, 'e2e.db'),
      LEADBOARD_LOG: 'warn',
      // The specs sign in as the demo accounts.
      LEADBOARD_DEMO_DATA: 'true',
    };
    if (this.sqlite) env.LEADBOARD_STORE = 'sqlite';
    Object.assign(env, this.env);
    this.log = '';
    const child = spawn(BIN, ['serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (this.log += d));
    child.stderr!.on('data', (d) => (this.log += d));
    this.child = child;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${BIN} exited with ${child.exitCode}:\n${this.log}`);
      try {
        if ((await fetch(`${this.url}/healthz`)).ok) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the server on ${this.url} did not start:\n${this.log}`);
  }

  /** Stops the server the way an operator does (SIGTERM: boards are told it is restarting). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
