/**
 * The JSON documents the pipeline writes (imgassets/core/records.py, serialized by pydantic: `schema_` → `schema`,
 * datetimes as ISO-8601 strings with offset).
 *
 * The types are generated from the Python models: `python -m imgassets.devtools.contract --write` exports their JSON Schema
 * to contract/records.schema.json, `npm run contract` turns it into records.generated.ts, and
 * imgassets_tests/test_contract.py fails when either is stale. Import them from here.
 *
 * A field with a default in Python is optional here: records written before it existed do not carry it.
 */

export type * from "./records.generated";
