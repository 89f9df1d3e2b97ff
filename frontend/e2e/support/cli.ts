// The imgassets CLI, as the browser tests call it.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** IMGASSETS_CLI, else the project's virtualenv's (../.venv/bin/imgassets from frontend/). */
export const CLI = process.env.IMGASSETS_CLI ?? fileURLToPath(new URL("../../../.venv/bin/imgassets", import.meta.url));

/**
 * Rows of the SQL `text` over the pipeline's tables of a range of upload hours (`range`: --last 30d, or --from …
 * --to …), as `imgassets query --format json` prints them (one JSON object a line), with this process's
 * environment (its IMGASSETS_* settings). `Row`: the columns the query selects.
 */
export function query<Row>(range: readonly string[], text: string, cli: string = CLI): Row[] {
  const out = execFileSync(cli, ["query", ...range, "--format", "json", text], {
    encoding: "utf8",
    env: process.env,
    maxBuffer: 64 * 2 ** 20,
  });
  return out
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Row);
}
