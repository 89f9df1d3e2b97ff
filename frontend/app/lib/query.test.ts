import { afterEach, describe, expect, it, vi } from "vitest";
import { loader as compareImageLoader, shouldRevalidate } from "../routes/compare.image";
import { loader as compareLoader } from "../routes/compare";
import { loader as hourLoader } from "../routes/hour";
import { loader as downloadLoader } from "../routes/search.download";
import { loader as searchLoader } from "../routes/search";
import { loader as sourceLoader } from "../routes/source";
import { config } from "./config.server";
import { PAGE_SIZE } from "./grid";
import { guard } from "./http.server";
import {
  QueryEndpointError,
  compareImage,
  compareVersions,
  downloadMatches,
  hourImages,
  listVersions,
  searchImages,
  sourcePage,
} from "./query.server";
import type { Summary } from "./records";
import * as summaries from "./summaries.server";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const SEARCH = {
  from: "2026-11-18T16:00:00+00:00",
  to: "2026-11-25T16:00:00+00:00",
  total: 50,
  page: 1,
  page_size: PAGE_SIZE,
  bucket: "day",
  histogram: [{ bucket: "2026-11-25T00:00:00+00:00", matches: 50 }],
  images: [],
};

/** The query endpoint's answers, by path; records every URL asked. */
function endpoint(answer: (url: URL) => Response | Promise<Response>) {
  const asked: URL[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: string | URL, init?: RequestInit) => {
      const url = new URL(String(input));
      asked.push(url);
      init?.signal?.throwIfAborted();
      return answer(url);
    }),
  );
  return asked;
}

// Loaders get more arguments than these; they read only request and params.
const args = (url: string, params: Record<string, string> = {}) =>
  ({ request: new Request(`http://viewer${url}`), params, context: {} }) as never;

async function caught(promise: unknown): Promise<unknown> {
  try {
    await promise;
  } catch (thrown) {
    return thrown;
  }
  throw new Error("did not throw");
}

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("query endpoint client", () => {
  it("asks the configured endpoint and reads its JSON", async () => {
    const asked = endpoint(() => json(SEARCH));
    const found = await searchImages(new URLSearchParams("last=7d&class=person:3"));
    expect(found.total).toBe(50);
    expect(asked[0].origin + asked[0].pathname).toBe(`${config().queryUrl}/search`);
    expect(asked[0].searchParams.getAll("class")).toEqual(["person:3"]);
    await hourImages("2026-11-25-04:00", new URLSearchParams("page=1"));
    expect(asked[1].pathname).toBe("/hours/2026-11-25-04%3A00");
  });

  it("passes the endpoint's refusal on as a 400 with its message", async () => {
    endpoint(() => json({ error: "a class condition is label:count with count >= 1, e.g. person:3, not 'x:0'" }, 400));
    const error = await caught(searchImages(new URLSearchParams("class=x:0")));
    expect(error).toBeInstanceOf(QueryEndpointError);
    expect(error).toMatchObject({ status: 400, message: expect.stringContaining("not 'x:0'") });
  });

  it("answers 503 when the endpoint fails, is down, is slow or talks nonsense", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    endpoint(() => json({ error: "the tables cannot be read: OSError" }, 503));
    expect(await caught(searchImages(new URLSearchParams()))).toMatchObject({
      status: 503,
      message: expect.stringContaining("answered 503: the tables cannot be read"),
    });

    endpoint(() => Promise.reject(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })));
    expect(await caught(searchImages(new URLSearchParams()))).toMatchObject({
      status: 503,
      message: expect.stringContaining("cannot be reached (ECONNREFUSED)"),
    });

    endpoint(() => new Response("<html>", { headers: { "Content-Type": "text/html" } }));
    expect(await caught(searchImages(new URLSearchParams()))).toMatchObject({ status: 503 });

    vi.useFakeTimers();
    vi.stubGlobal(
      "fetch",
      vi.fn(
        (_: unknown, init: RequestInit) =>
          new Promise((_resolve, reject) => init.signal?.addEventListener("abort", () => reject(init.signal?.reason))),
      ),
    );
    const slow = caught(searchImages(new URLSearchParams()));
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await slow).toMatchObject({ status: 503, message: expect.stringContaining("did not answer within 20 s") });
  });

  it("sends its bearer token, and says so when the endpoint refuses it", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const settings = config();
    const saved = settings.queryToken;
    settings.queryToken = "the-token";
    try {
      const sent: (string | null)[] = [];
      vi.stubGlobal(
        "fetch",
        vi.fn(async (_input: string | URL, init?: RequestInit) => {
          sent.push(new Headers(init?.headers).get("Authorization"));
          return json({ error: "this endpoint answers only the viewer's server" }, 401);
        }),
      );
      const refused = await caught(listVersions());
      expect(sent).toEqual(["Bearer the-token"]);
      expect(refused).toBeInstanceOf(QueryEndpointError);
      expect((refused as QueryEndpointError).status).toBe(503);
      expect((refused as QueryEndpointError).message).toMatch(/refused this viewer's token.*same IMGASSETS_QUERY_TOKEN/);
      expect((refused as QueryEndpointError).message).not.toContain("the-token");
      settings.queryToken = undefined;
      expect(((await caught(listVersions())) as Error).message).toMatch(/IMGASSETS_QUERY_TOKEN is not set/);
      expect(sent[1]).toBeNull();
    } finally {
      settings.queryToken = saved;
    }
  });

  it("becomes the route's 400 or 503 through guard", async () => {
    const statusOf = async (error: unknown) =>
      ((await caught(guard(() => Promise.reject(error)))) as { init?: { status?: number } }).init?.status;
    expect(await statusOf(new QueryEndpointError(400, "bad"))).toBe(400);
    expect(await statusOf(new QueryEndpointError(503, "down"))).toBe(503);
  });

  it("streams a download with the endpoint's type and file name", async () => {
    const asked = endpoint(
      () =>
        new Response("image_key\nimages/x\n", {
          headers: {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="imgassets-matches.csv"',
          },
        }),
    );
    const response = await downloadMatches("csv", new URLSearchParams("last=30d&class=dog:1"));
    expect(asked[0].pathname).toBe("/search.csv");
    expect(response.headers.get("Content-Type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("Content-Disposition")).toBe('attachment; filename="imgassets-matches.csv"');
    expect(await response.text()).toBe("image_key\nimages/x\n");
  });
});

describe("search routes", () => {
  const noSummaries = () => vi.spyOn(summaries, "loadRecentSummaries").mockResolvedValue([]);

  it("redirects a form submission to the canonical, shareable URL", async () => {
    const fetch = endpoint(() => json(SEARCH));
    const thrown = (await caught(searchLoader(args("/search?last=7d&count=3&label=person&min_confidence=&source=")))) as Response;
    expect(thrown.status).toBe(302);
    expect(thrown.headers.get("Location")).toBe("/search?last=7d&class=person:3");
    expect(fetch).toHaveLength(0);
  });

  it("searches, charts and pages", async () => {
    noSummaries();
    const asked = endpoint(() => json(SEARCH));
    const result = (await searchLoader(args("/search?last=7d&class=person:3&page=2"))) as {
      result: { total: number; pageCount: number; bars: { matches: number }[] };
    };
    expect(asked[0].searchParams.get("page")).toBe("2");
    expect(result.result.total).toBe(50);
    expect(result.result.pageCount).toBe(2);
    expect(result.result.bars).toHaveLength(8);
    expect(result.result.bars.reduce((sum, bar) => sum + bar.matches, 0)).toBe(50);
  });

  it("shows the endpoint's refusal on the page, with status 400", async () => {
    noSummaries();
    endpoint(() => json({ error: "a class condition is label:count with count >= 1, e.g. person:3, not 'person:0'" }, 400));
    const answer = (await searchLoader(args("/search?last=7d&class=person:0"))) as unknown as {
      data: { error: string; result: null };
      init: { status: number };
    };
    expect(answer.init.status).toBe(400);
    expect(answer.data.error).toContain("not 'person:0'");
    expect(answer.data.result).toBeNull();
  });

  it("sends a page past the end to the last page", async () => {
    noSummaries();
    endpoint(() => json({ ...SEARCH, page: 9 }));
    const thrown = (await caught(searchLoader(args("/search?last=7d&page=9")))) as Response;
    expect(thrown.headers.get("Location")).toBe("/search?last=7d&page=2");
  });

  it("downloads csv or parquet only, with the search's parameters and no paging", async () => {
    const asked = endpoint(() => new Response("PAR1", { headers: { "Content-Type": "application/vnd.apache.parquet" } }));
    const bad = await downloadLoader(args("/search/download/xlsx?last=7d", { format: "xlsx" }));
    expect(bad.status).toBe(404);
    expect(asked).toHaveLength(0);
    const good = await downloadLoader(args("/search/download/parquet?last=30d&class=dog:1&page=3", { format: "parquet" }));
    expect(good.status).toBe(200);
    expect(asked[0].pathname).toBe("/search.parquet");
    expect([...asked[0].searchParams]).toEqual([
      ["last", "30d"],
      ["class", "dog:1"],
    ]);

    endpoint(() => json({ error: "min confidence must be between 0 and 1" }, 400));
    const refused = await downloadLoader(args("/search/download/csv?last=7d&min_confidence=2", { format: "csv" }));
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("min confidence must be between 0 and 1");
  });
});

describe("hour route", () => {
  const SUMMARY: Summary = {
    schema: "imgassets.summary.v2",
    partition: "2026-11-25-04:00",
    generated_at: "2026-11-25T05:00:00+00:00",
    image_count: 60,
    rejected_count: 0,
    total_objects: 90,
    class_counts: { person: 90 },
    images_with_class: { person: 60 },
    source_counts: { "cam-1": 30, "cam-2": 30 },
    rejected: [],
    runs: ["r1"],
  };
  const HOUR = { partition: "2026-11-25-04:00", total: 30, page: 1, page_size: PAGE_SIZE, sources: ["cam-1", "cam-2"] };

  it("pushes class, minimum count, source and page down to the endpoint", async () => {
    vi.spyOn(summaries, "loadSummary").mockResolvedValue(SUMMARY);
    const asked = endpoint(() => json({ ...HOUR, images: [] }));
    const page = (await hourLoader(
      args("/hours/2026-11-25-04:00?class=person&min=2&source=cam-1", { partition: "2026-11-25-04:00" }),
    )) as { page: { total: number }; sources: string[]; sourceCounts: Record<string, number> };
    expect(asked[0].pathname).toBe("/hours/2026-11-25-04%3A00");
    expect(Object.fromEntries(asked[0].searchParams)).toEqual({
      class: "person",
      min: "2",
      source: "cam-1",
      page: "1",
      page_size: String(PAGE_SIZE),
    });
    expect(page.page.total).toBe(30);
    expect(page.sources).toEqual(["cam-1", "cam-2"]);
    expect(page.sourceCounts).toEqual({ "cam-1": 30, "cam-2": 30 });
    expect(page).toMatchObject({ noTable: false });
  });

  it("tells an hour without tables from one whose images do not match", async () => {
    vi.spyOn(summaries, "loadSummary").mockResolvedValue(SUMMARY);
    endpoint(() => json({ ...HOUR, total: 0, sources: [], images: [] }));
    expect(await hourLoader(args("/hours/2026-11-25-04:00", { partition: "2026-11-25-04:00" }))).toMatchObject({
      noTable: true,
    });
    endpoint(() => json({ ...HOUR, total: 0, images: [] }));
    expect(
      await hourLoader(args("/hours/2026-11-25-04:00?source=cam-9", { partition: "2026-11-25-04:00" })),
    ).toMatchObject({ noTable: false });
  });

  it("shows an hour without a summary as empty, with its neighbours, whatever the endpoint says", async () => {
    vi.spyOn(summaries, "loadSummary").mockResolvedValue(null);
    endpoint(() => Promise.reject(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })));
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect(await hourLoader(args("/hours/2026-11-25-00:00", { partition: "2026-11-25-00:00" }))).toEqual({
      kind: "empty",
      partition: "2026-11-25-00:00",
      previous: "2026-11-24-23:00",
      next: "2026-11-25-01:00",
    });
  });

  it("refuses what is not an hour", async () => {
    const thrown = (await caught(hourLoader(args("/hours/2026-11-25-04:30", { partition: "2026-11-25-04:30" })))) as {
      init: { status: number };
    };
    expect(thrown.init.status).toBe(400);
  });
});

describe("compare routes", () => {
  const VERSIONS = {
    active: "default",
    versions: [
      { name: "conf03", detector: "opencv, input 416, confidence 0.3, NMS 0.4", active: false },
      { name: "default", detector: "opencv, input 416, confidence 0.5, NMS 0.4", active: true },
      { name: "input608", detector: "opencv, input 608, confidence 0.5, NMS 0.4", active: false },
    ],
  };
  const DISAGREEMENT = { image_key: "images/2026/11/25/04/5a9522051c3c-dog.jpg", objects_a: 1, objects_b: 3, matched: 1, only_a: 0, only_b: 2, difference: 2 };
  const COMPARE = {
    version_a: "default",
    version_b: "conf03",
    detector_a: VERSIONS.versions[1].detector,
    detector_b: VERSIONS.versions[0].detector,
    versions: VERSIONS.versions,
    from: "2026-11-18T16:00:00+00:00",
    to: "2026-11-25T16:00:00+00:00",
    hours: [
      { partition: "2026-11-25-04:00", images: 10, objects_a: 20, objects_b: 26, matched: 19, precision: 0.7308, recall: 0.95, disagreements: 50 },
    ],
    images: 10,
    objects_a: 20,
    objects_b: 26,
    matched: 19,
    precision: 0.7308,
    recall: 0.95,
    classes: [{ label: "dog", a: 20, b: 26, matched: 19 }],
    sort: "difference",
    total_disagreements: 50,
    page: 1,
    page_size: PAGE_SIZE,
    disagreements: [DISAGREEMENT],
  };
  const KEY = DISAGREEMENT.image_key;
  const IMAGE = {
    image_key: KEY,
    version_a: "default",
    version_b: "conf03",
    detector_a: COMPARE.detector_a,
    detector_b: COMPARE.detector_b,
    width: 640,
    height: 480,
    detections_a: [],
    detections_b: null,
  };
  /** The endpoint: /versions lists VERSIONS (or `versions`), the rest answers `answer`. */
  const withVersions = (answer: (url: URL) => Response, versions: unknown = VERSIONS) =>
    endpoint((url) => (url.pathname === "/versions" ? json(versions) : answer(url)));

  it("asks the endpoint for versions, comparisons and images, with keys encoded like the viewer's", async () => {
    const asked = endpoint((url) => json(url.pathname === "/versions" ? VERSIONS : url.pathname.includes("/images/") ? IMAGE : COMPARE));
    expect((await listVersions()).active).toBe("default");
    expect(asked[0].pathname).toBe("/versions");
    expect((await compareVersions("conf03", new URLSearchParams("last=7d&sort=only_b"))).objects_b).toBe(26);
    expect(asked[1].pathname).toBe("/versions/conf03/compare");
    expect(asked[1].searchParams.get("sort")).toBe("only_b");
    await compareImage("conf03", KEY);
    expect(asked[2].pathname).toBe(`/versions/conf03/images/${KEY}`);
    await compareImage("conf03", "images/2026/11/25/04/5a9522051c3c-a b#?%ä.jpg");
    expect(asked[3].pathname).toBe("/versions/conf03/images/images/2026/11/25/04/5a9522051c3c-a%20b%23%3F%25%C3%A4.jpg");
  });

  it("compares the version of the URL over its range, in its order and page", async () => {
    const asked = withVersions(() => json({ ...COMPARE, sort: "only_b", page: 2 }));
    const page = (await compareLoader(args("/compare?version=conf03&last=24h&sort=only_b&page=2"))) as {
      result: { pageCount: number; objects_b: number };
      error: null;
    };
    expect(asked).toHaveLength(1);
    expect(asked[0].pathname).toBe("/versions/conf03/compare");
    expect(Object.fromEntries(asked[0].searchParams)).toEqual({
      last: "24h",
      sort: "only_b",
      page: "2",
      page_size: String(PAGE_SIZE),
    });
    expect(page.result.pageCount).toBe(2);
    expect(page.result.objects_b).toBe(26);
    expect(page.error).toBeNull();
  });

  it("redirects without a version to the first one that is not active, keeping the range", async () => {
    const asked = withVersions(() => json(COMPARE));
    const thrown = (await caught(compareLoader(args("/compare?last=24h")))) as Response;
    expect(thrown.status).toBe(302);
    expect(thrown.headers.get("Location")).toBe("/compare?version=conf03&last=24h");
    expect(asked.map((url) => url.pathname)).toEqual(["/versions"]);
  });

  it("says so when only the active version is configured", async () => {
    withVersions(() => json(COMPARE), { active: "default", versions: [VERSIONS.versions[1]] });
    const page = (await compareLoader(args("/compare"))) as { result: null; versions: unknown[]; query: { version: null } };
    expect(page.result).toBeNull();
    expect(page.query.version).toBeNull();
    expect(page.versions).toHaveLength(1);
  });

  it("redirects a form submission to the canonical URL, and a page past the end to the last one", async () => {
    const asked = withVersions(() => json({ ...COMPARE, page: 9, disagreements: [] }));
    const form = (await caught(compareLoader(args("/compare?version=conf03&last=&from=2026-11-25T04%3A00&to=&sort=difference")))) as Response;
    expect(form.headers.get("Location")).toBe("/compare?version=conf03&from=2026-11-25T04:00");
    expect(asked).toHaveLength(0);
    const past = (await caught(compareLoader(args("/compare?version=conf03&page=9")))) as Response;
    expect(past.headers.get("Location")).toBe("/compare?version=conf03&page=2");
  });

  it("shows the endpoint's refusal on the page, with status 400 and the versions to choose from", async () => {
    withVersions(() => json({ error: "'default' is the active version; compare another version with it" }, 400));
    const answer = (await compareLoader(args("/compare?version=default"))) as unknown as {
      data: { error: string; result: null; versions: unknown[] };
      init: { status: number };
    };
    expect(answer.init.status).toBe(400);
    expect(answer.data.error).toContain("is the active version");
    expect(answer.data.result).toBeNull();
    expect(answer.data.versions).toHaveLength(3);

    const asked = withVersions(() => json(COMPARE));
    const bad = (await compareLoader(args("/compare?version=..%2Fsearch"))) as unknown as { init: { status: number } };
    expect(bad.init.status).toBe(400);
    expect(asked.map((url) => url.pathname)).toEqual(["/versions"]);
  });

  it("answers 503 when the endpoint is down", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    endpoint(() => Promise.reject(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })));
    const thrown = (await caught(compareLoader(args("/compare?version=conf03")))) as { init: { status: number } };
    expect(thrown.init.status).toBe(503);
  });

  it("loads both versions' boxes of an image, and refuses keys outside the layout", async () => {
    const asked = withVersions(() => json(IMAGE));
    const page = (await compareImageLoader(args(`/compare/images/${KEY}?version=conf03&show=b`, { "*": KEY }))) as {
      partition: string;
      comparison: { detections_b: null };
    };
    expect(asked[0].pathname).toBe(`/versions/conf03/images/${KEY}`);
    expect(page).toMatchObject({ partition: "2026-11-25-04:00", comparison: { detections_b: null } });

    const missing = (await caught(compareImageLoader(args(`/compare/images/${KEY}?last=7d&show=a`, { "*": KEY })))) as Response;
    expect(missing.headers.get("Location")).toBe(`/compare/images/${KEY}?version=conf03&last=7d&show=a`);

    const outside = (await caught(
      compareImageLoader(args("/compare/images/summaries/2026/11/25/04.json?version=conf03", { "*": "summaries/2026/11/25/04.json" })),
    )) as { init: { status: number } };
    expect(outside.init.status).toBe(400);
    expect(asked).toHaveLength(2);
  });

  it("does not reload an image when only the boxes shown change", () => {
    const at = (text: string) => new URL(`http://viewer/compare/images/${KEY}${text}`);
    const revalidates = (from: string, to: string) =>
      shouldRevalidate({ currentUrl: at(from), nextUrl: at(to), defaultShouldRevalidate: true } as never);
    expect(revalidates("?version=conf03", "?version=conf03&show=a")).toBe(false);
    expect(revalidates("?version=conf03&show=a", "?version=input608&show=a")).toBe(true);
  });
});

describe("source route", () => {
  const SOURCE = {
    source: "cam-gate",
    version: "default",
    from: "2026-11-24T16:00:00+00:00",
    to: "2026-11-25T16:00:00+00:00",
    hours: [
      {
        partition: "2026-11-25-04:00",
        frames: 120,
        unique_objects: { person: 3, truck: 1 },
        crossings: { gate: { in: 3, out: 2 } },
        zones: { "left-half": { visits: 4, dwell_s: 12.5 } },
      },
    ],
    unique_objects: { person: 3, truck: 1 },
    crossings: { gate: { in: 3, out: 2 } },
    zones: { "left-half": { visits: 4, dwell_s: 12.5 } },
    lines: { gate: { start: [0, 0.5], end: [1, 0.5], in_side: [0.5, 0.9] } },
    zone_shapes: { "left-half": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]] },
    latest_partition: "2026-11-25-04:00",
    strip: [],
  };

  it("asks the endpoint for the source, its name encoded, over the URL's range or the last 24 hours", async () => {
    const asked = endpoint(() => json(SOURCE));
    const page = (await sourceLoader(args("/sources/cam-gate", { name: "cam-gate" }))) as {
      name: string;
      error: null;
      result: { unique_objects: Record<string, number> };
    };
    expect(asked[0].pathname).toBe("/sources/cam-gate");
    expect(Object.fromEntries(asked[0].searchParams)).toEqual({ last: "24h" });
    expect(page.name).toBe("cam-gate");
    expect(page.error).toBeNull();
    expect(page.result.unique_objects).toEqual({ person: 3, truck: 1 });

    await sourceLoader(args("/sources/site:north@2?from=2026-11-25-04:00&to=2026-11-25-05:00", { name: "site:north@2" }));
    expect(asked[1].pathname).toBe("/sources/site%3Anorth%402");
    expect(Object.fromEntries(asked[1].searchParams)).toEqual({ from: "2026-11-25-04:00", to: "2026-11-25-05:00" });
    await sourcePage("cam-gate", { last: "7d", from: null, to: null });
    expect(asked[2].search).toBe("?last=7d");
  });

  it("redirects a form submission to the canonical URL", async () => {
    const asked = endpoint(() => json(SOURCE));
    const form = (await caught(
      sourceLoader(args("/sources/cam-gate?last=&from=2026-11-25T04%3A00&to=", { name: "cam-gate" })),
    )) as Response;
    expect(form.status).toBe(302);
    expect(form.headers.get("Location")).toBe("/sources/cam-gate?from=2026-11-25T04:00");
    expect(asked).toHaveLength(0);
  });

  it("refuses what is not a source name with a 400, without asking", async () => {
    const asked = endpoint(() => json(SOURCE));
    for (const name of ["../search", "a b", "-cam", "x".repeat(65)]) {
      const thrown = (await caught(sourceLoader(args(`/sources/${encodeURIComponent(name)}`, { name })))) as {
        init: { status: number };
        data: { message: string };
      };
      expect(thrown.init.status).toBe(400);
      expect(thrown.data.message).toContain("is not a source name");
    }
    expect(asked).toHaveLength(0);
  });

  it("shows the endpoint's refusal on the page with status 400, and answers 503 when it is down", async () => {
    endpoint(() => json({ error: "from must be before to" }, 400));
    const answer = (await sourceLoader(
      args("/sources/cam-gate?from=2026-11-26&to=2026-11-25", { name: "cam-gate" }),
    )) as unknown as { data: { error: string; result: null }; init: { status: number } };
    expect(answer.init.status).toBe(400);
    expect(answer.data.error).toBe("from must be before to");
    expect(answer.data.result).toBeNull();

    vi.spyOn(console, "error").mockImplementation(() => {});
    endpoint(() => Promise.reject(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })));
    const thrown = (await caught(sourceLoader(args("/sources/cam-gate", { name: "cam-gate" })))) as {
      init: { status: number };
    };
    expect(thrown.init.status).toBe(503);
  });
});
