/** The health check (the local stack's, a container's): answered in every access mode, with no data. */
export function loader() {
  return new Response("ok\n", { headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" } });
}
