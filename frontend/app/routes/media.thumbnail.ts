import { serveMedia } from "../lib/media.server";
import type { Route } from "./+types/media.thumbnail";

export function loader({ request, params }: Route.LoaderArgs): Promise<Response> {
  return serveMedia(request, "thumbnail", params["*"]);
}
