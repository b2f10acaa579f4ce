import { createServer, Server, Socket } from 'node:net';
import { freePort } from './server';

/**
 * A TCP proxy between the browser and a server, which a test can cut: the link goes dead for
 * every open connection (websockets included, which Playwright's `setOffline` leaves open) and
 * new connections are refused until it is restored.
 */
export class Proxy {
  readonly url: string;
  private open = new Set<Socket>();
  private cutOff = false;
  private holding = false;

  private constructor(private readonly server: Server, readonly port: number, private readonly target: number) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(targetPort: number): Promise<Proxy> {
    const port = await freePort();
    let proxy!: Proxy;
    const server = createServer((client) => proxy.accept(client));
    proxy = new Proxy(server, port, targetPort);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return proxy;
  }

  private accept(client: Socket) {
    if (this.cutOff || this.holding) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    upstream.connect(this.target, '127.0.0.1');
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
      this.open.add(a);
      a.on('close', () => this.open.delete(a));
    }
  }

  /** The link goes dead: every open connection is dropped, new ones are refused. */
  cut() {
    this.cutOff = true;
    for (const s of this.open) s.destroy();
  }

  /** Open connections stay up; new ones are refused (a server behind it can restart unseen). */
  hold() {
    this.holding = true;
  }

  restore() {
    this.cutOff = false;
    this.holding = false;
  }

  async close() {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }
}
