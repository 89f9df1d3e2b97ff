import { serveMedia } from "../lib/media.server";
import type { Route } from "./+types/media.original";

export function loader({ request, params }: Route.LoaderArgs): Promise<Response> {
  return serveMedia(request, "original", params["*"]);
}
