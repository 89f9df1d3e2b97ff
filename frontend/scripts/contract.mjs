// Generates the viewer's side of the contract from ../contract/
// (written by `python -m imgassets.devtools.contract --write`):
//   app/lib/records.generated.ts       types of the pipeline's JSON documents (json-schema-to-typescript)
//   app/lib/viewer-routes.generated.ts the viewer's URL paths
//   app/lib/settings.generated.ts      the defaults and limits of the IMGASSETS_* settings the server reads
// Usage: npm run contract [-- --out-dir DIR]   (imgassets_tests/test_contract.py generates into a temporary
// directory and compares, so a stale committed file fails the tests.)
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { compile } from "json-schema-to-typescript";

const frontend = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const contract = resolve(frontend, "..", "contract");
const { values } = parseArgs({ options: { "out-dir": { type: "string", default: join(frontend, "app", "lib") } } });
const outDir = resolve(values["out-dir"]);

const banner = (source) =>
  `/**\n * Generated from contract/${source} by \`npm run contract\` (frontend/scripts/contract.mjs); do not edit.\n` +
  ` * The contract itself is generated from the Python code: \`.venv/bin/python -m imgassets.devtools.contract --write\`.\n */`;

const schema = JSON.parse(await readFile(join(contract, "records.schema.json"), "utf8"));
const records = await compile(schema, "Document", {
  bannerComment: banner("records.schema.json"),
  // Readers ignore fields they do not know, but the types list only the known ones (no index signatures).
  additionalProperties: false,
  unreachableDefinitions: true,
  style: {
    bracketSpacing: true,
    printWidth: 120,
    semi: true,
    singleQuote: false,
    tabWidth: 2,
    trailingComma: "all",
    useTabs: false,
  },
});

const viewerRoutes = JSON.parse(await readFile(join(contract, "viewer-routes.json"), "utf8"));
const routes =
  `${banner("viewer-routes.json")}\n\n` +
  `/** React Router paths: \`:name\` fills one segment, a trailing \`*\` the rest, filled by \`splat\`. */\n` +
  `export const VIEWER_ROUTES = ${JSON.stringify(viewerRoutes.routes, null, 2)} as const;\n\n` +
  `export type ViewerRoute = keyof typeof VIEWER_ROUTES;\n`;

const viewerSettings = JSON.parse(await readFile(join(contract, "viewer-settings.json"), "utf8"));
const settings =
  `${banner("viewer-settings.json")}\n\n` +
  `/** Each IMGASSETS_* setting the server reads: its default (imgassets/core/settings.py) and what it may be. */\n` +
  `export const SETTINGS = ${JSON.stringify(viewerSettings.settings, null, 2)} as const;\n`;

await mkdir(outDir, { recursive: true });
await writeFile(join(outDir, "records.generated.ts"), records);
await writeFile(join(outDir, "viewer-routes.generated.ts"), routes);
await writeFile(join(outDir, "settings.generated.ts"), settings);
console.log(`wrote records.generated.ts, viewer-routes.generated.ts and settings.generated.ts in ${outDir}`);
