/**
 * The server's rendering of a page: React Router's default (streamed, bots wait for all content) plus a fresh
 * nonce per page for its Content-Security-Policy (security.server.ts), given to the inline scripts React Router
 * renders. Importing it also checks the configuration: a viewer that would run open where it must not (login
 * mode without its settings, docs/security.md) stops here, before it listens.
 */
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import { createReadableStreamFromReadable } from "@react-router/node";
import { isbot } from "isbot";
import type { RenderToPipeableStreamOptions } from "react-dom/server";
import { renderToPipeableStream } from "react-dom/server";
import type { EntryContext } from "react-router";
import { ServerRouter } from "react-router";
import { access, config } from "./lib/config.server";
import { NonceContext } from "./lib/nonce";
import { recordPeerAddresses } from "./lib/peer.server";
import { pagePolicy } from "./lib/security.server";

function checkConfiguration(): void {
  try {
    const settings = access();
    const { queryToken } = config();
    const mode = settings.mode === settings.setting ? settings.mode : `${settings.mode} (auto)`;
    const who =
      settings.mode === "login"
        ? `user ${settings.login?.user}`
        : settings.mode === "proxy"
          ? `the user in ${settings.proxyUserHeader}`
          : "no login";
    console.log(`imgassets viewer: access ${mode} on ${settings.listen}: ${who}`);
    if (settings.mode === "none" && settings.setting === "none") {
      console.warn("imgassets viewer: IMGASSETS_VIEWER_AUTH=none: whoever reaches this server sees everything");
    }
    if (queryToken === undefined) {
      console.warn(
        "imgassets viewer: IMGASSETS_QUERY_TOKEN is not set: the query endpoint will refuse this viewer's searches",
      );
    }
  } catch (error) {
    const message = `imgassets viewer: cannot start: ${(error as Error).message}`;
    if (process.env.NODE_ENV !== "production") throw new Error(message, { cause: error });
    console.error(message);
    process.exit(1);
  }
}

checkConfiguration();
recordPeerAddresses();

export const streamTimeout = 5_000;

export default function handleRequest(
  request: Request,
  responseStatusCode: number,
  responseHeaders: Headers,
  routerContext: EntryContext,
) {
  const nonce = randomBytes(16).toString("base64");
  responseHeaders.set("Content-Security-Policy", pagePolicy(nonce));

  // https://httpwg.org/specs/rfc9110.html#HEAD
  if (request.method.toUpperCase() === "HEAD") {
    return new Response(null, { status: responseStatusCode, headers: responseHeaders });
  }

  return new Promise<Response>((resolve, reject) => {
    let shellRendered = false;
    const userAgent = request.headers.get("user-agent");
    // Bots and SPA mode wait for all content to load before the answer starts.
    const readyOption: keyof RenderToPipeableStreamOptions =
      (userAgent && isbot(userAgent)) || routerContext.isSpaMode ? "onAllReady" : "onShellReady";

    // Abort after `streamTimeout`, leaving time to flush the rejected boundaries.
    let timeoutId: ReturnType<typeof setTimeout> | undefined = setTimeout(() => abort(), streamTimeout + 1000);

    const { pipe, abort } = renderToPipeableStream(
      <NonceContext.Provider value={nonce}>
        <ServerRouter context={routerContext} url={request.url} nonce={nonce} />
      </NonceContext.Provider>,
      {
        nonce,
        [readyOption]() {
          shellRendered = true;
          const body = new PassThrough({
            final(callback) {
              clearTimeout(timeoutId);
              timeoutId = undefined;
              callback();
            },
          });
          const stream = createReadableStreamFromReadable(body);
          responseHeaders.set("Content-Type", "text/html");
          pipe(body);
          resolve(new Response(stream, { headers: responseHeaders, status: responseStatusCode }));
        },
        onShellError(error: unknown) {
          reject(error instanceof Error ? error : new Error(String(error)));
        },
        onError(error: unknown) {
          responseStatusCode = 500;
          // Errors of the shell reject and are logged by React Router; later ones only here.
          if (shellRendered) console.error(error);
        },
      },
    );
  });
}
