import { plain } from "../lib/http.server";
import { DOWNLOAD_FORMATS, QueryEndpointError, downloadMatches } from "../lib/query.server";
import { endpointParams, parseSearchQuery } from "../lib/search";
import type { Route } from "./+types/search.download";

/**
 * Every image matching the search in the query string (the search page's parameters, paging ignored) as CSV or
 * Parquet: the query endpoint's /search.csv or /search.parquet, streamed with its type and file name.
 */
export async function loader({ request, params }: Route.LoaderArgs): Promise<Response> {
  const format = DOWNLOAD_FORMATS.find((known) => known === params.format);
  if (format === undefined) {
    return plain(404, `Not found: downloads are ${DOWNLOAD_FORMATS.join(" or ")}.\n`);
  }
  const query = parseSearchQuery(new URL(request.url).searchParams);
  try {
    return await downloadMatches(format, endpointParams(query, null), request.signal);
  } catch (error) {
    if (error instanceof QueryEndpointError) {
      return plain(error.status, `${error.status === 400 ? "Bad request" : "Unavailable"}: ${error.message}\n`);
    }
    throw error;
  }
}
