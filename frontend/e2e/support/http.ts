// HTTP requests that fetch and browsers will not send.
import http from "node:http";

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * GET `path` of the server at `base` with the path sent verbatim (fetch and browsers would normalize `..` and
 * `%2e%2e` away) and any `headers`, a chosen Host too (fetch would not send it).
 */
export function rawGet(base: string, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method: "GET", headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
