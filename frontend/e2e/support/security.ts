// The security suite's servers and fixtures (docs/security.md), self-contained: the built viewer (npm run build) in
// login, proxy and open mode, and the query endpoint (`imgassets serve-queries`), on free loopback ports, with no
// S3 behind them. Whatever the pages show comes from the query endpoint's detector versions, which need no S3.
//
//   IMGASSETS_CLI  the imgassets CLI (else ../.venv/bin/imgassets): `viewer-password` and `serve-queries`
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import type http from "node:http";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, type BrowserContextOptions, type Page, test as base } from "@playwright/test";
import { expect } from "@playwright/test";
import { CLI } from "./cli";

export { expect };

declare global {
  interface Window {
    /** The CSP violations of the page, collected by `freshPage`'s init script. */
    __cspViolations: string[];
    /** Set once React Router has loaded the route modules: the page's scripts ran. */
    __reactRouterRouteModules?: unknown;
  }
}

const FRONTEND = fileURLToPath(new URL("../..", import.meta.url));
const SERVE = fileURLToPath(new URL("../../node_modules/@react-router/serve/dist/cli.js", import.meta.url));
const BUILD = fileURLToPath(new URL("../../build/server/index.js", import.meta.url));

export const USER = "alice";
export const PASSWORD = "correct horse battery staple";
export const TOKEN = "query-token-for-the-security-tests";
export const SECRET = "session-secret-for-the-security-tests-0123456789";
/** A detector version of the project's detector-versions.toml, which the query endpoint lists without S3. */
export const KNOWN_VERSION = "conf03";
/** A page whose data all comes from the query endpoint: the version chooser and its refusal of an unknown name. */
export const COMPARE = "/compare?version=nosuch";
/** A thumbnail's path: behind the login like every page (no S3 behind it, so never served). */
export const THUMBNAIL = "/media/thumbnail/images/2026/11/25/04/5a9522051c3c-dog.jpg";

/** Base environment of every server: no .env, no S3 (port 9 refuses), nothing inherited from IMGASSETS_*. */
export function baseEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("IMGASSETS_")));
  return {
    ...env,
    IMGASSETS_ENV_FILE: "/dev/null",
    IMGASSETS_S3_ENDPOINT_URL: "http://127.0.0.1:9",
    IMGASSETS_S3_ACCESS_KEY_ID: "none",
    IMGASSETS_S3_SECRET_ACCESS_KEY: "none",
    IMGASSETS_S3_MAX_ATTEMPTS: "1",
    NODE_ENV: "production",
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A process started by the suite: its output so far. */
export interface Started {
  child: ChildProcess;
  output: () => string;
}

/** The processes the suite starts, stopped (SIGTERM) when its worker ends. */
export class Processes {
  readonly #children: ChildProcess[] = [];

  /** Starts `argv` with `env` in frontend/, collecting its output. */
  spawn(argv: string[], env: NodeJS.ProcessEnv): Started {
    const child = spawn(argv[0], argv.slice(1), { cwd: FRONTEND, env, stdio: ["ignore", "pipe", "pipe"] });
    this.#children.push(child);
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    return { child, output: () => output };
  }

  /** Starts `argv` with `env`; resolves once GET `health` answers 200. */
  async start(name: string, argv: string[], env: NodeJS.ProcessEnv, health: string): Promise<Started> {
    const started = this.spawn(argv, env);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (started.child.exitCode !== null) throw new Error(`${name} exited ${started.child.exitCode}:\n${started.output()}`);
      try {
        if ((await fetch(health)).status === 200) return started;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${name} did not answer ${health} within 30 s:\n${started.output()}`);
  }

  stopAll(): void {
    for (const child of this.#children) if (child.exitCode === null) child.kill("SIGTERM");
  }
}

/** The query endpoint the suite's viewers ask, and the password hash `imgassets viewer-password` made. */
export interface QueryEndpoint {
  url: string;
  hash: string;
}

/** A viewer the suite started: its URL and its output so far. */
export interface Viewer {
  url: string;
  output: () => string;
}

/**
 * The security suite's `test`, with worker fixtures: `processes`, the servers it starts (stopped at the end), and
 * `queryEndpoint`, started once per worker before its first test (every test's viewer asks it).
 */
export const test = base.extend<object, { processes: Processes; queryEndpoint: QueryEndpoint }>({
  processes: [
    async ({}, use) => {
      const processes = new Processes();
      await use(processes);
      processes.stopAll();
    },
    { scope: "worker" },
  ],
  queryEndpoint: [
    async ({ processes }, use) => {
      // The hash as the documentation says to make it: Python writes it, the viewer checks it with Node's crypto.
      const hash = execFileSync(CLI, ["viewer-password"], {
        input: `${PASSWORD}\n`,
        encoding: "utf8",
        env: baseEnv(),
      }).trim();
      expect(hash).toMatch(/^scrypt:N=\d+,r=\d+,p=\d+:/);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      await processes.start(
        "query endpoint",
        [CLI, "serve-queries", "--port", String(port)],
        { ...baseEnv(), IMGASSETS_QUERY_TOKEN: TOKEN, IMGASSETS_QUERY_URL: url },
        `${url}/health`,
      );
      await use({ url, hash });
    },
    { scope: "worker", auto: true },
  ],
});

/** A viewer (the production build, react-router-serve) on a free loopback port with `settings`. */
export async function startViewer(
  processes: Processes,
  queryEndpoint: QueryEndpoint,
  settings: Record<string, string>,
): Promise<Viewer> {
  const port = await freePort();
  const env = {
    ...baseEnv(),
    PORT: String(port),
    HOST: "127.0.0.1",
    IMGASSETS_QUERY_URL: queryEndpoint.url,
    ...settings,
  };
  const url = `http://127.0.0.1:${port}`;
  const viewer = await processes.start(
    `viewer ${JSON.stringify(settings)}`,
    [process.execPath, SERVE, BUILD],
    env,
    `${url}/healthz`,
  );
  return { url, output: viewer.output };
}

/** Starts a viewer that would listen on `host`, with the query endpoint's URL; for one that must refuse to start. */
export async function spawnViewer(processes: Processes, queryEndpoint: QueryEndpoint, host: string): Promise<Started> {
  const port = await freePort();
  const env = { ...baseEnv(), PORT: String(port), HOST: host, IMGASSETS_QUERY_URL: queryEndpoint.url };
  return processes.spawn([process.execPath, SERVE, BUILD], env);
}

/** The four headers every answer of the viewer carries; `page`: a page's nonce'd policy, else the strict one. */
export function expectSecurityHeaders(
  headers: http.IncomingHttpHeaders | Record<string, string>,
  what: string,
  page = false,
): void {
  const policy = String(headers["content-security-policy"] ?? "");
  expect(policy, `${what}: CSP ${policy}`).toMatch(/frame-ancestors 'none'/);
  if (page) {
    expect(policy, `${what}: CSP ${policy}`).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]{16,}'/);
    expect(policy, `${what}: CSP ${policy}`).not.toMatch(/script-src[^;]*'unsafe-inline'/);
  }
  expect(headers["x-frame-options"], what).toBe("DENY");
  expect(headers["x-content-type-options"], what).toBe("nosniff");
  expect(headers["referrer-policy"], what).toBe("same-origin");
}

/** A fresh browser context (no cookies) with its page, whose CSP violations and console errors are collected. */
export async function freshPage(
  browser: Browser,
  options: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; page: Page; consoleErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return { context, page, consoleErrors };
}
